#include "sm/kv_store.h"

#include "base/byte_codec.h"
#include "sm/kv_command.h"

namespace dengine::sm {

using base::ByteReader;
using base::ByteWriter;

std::string encode_stored_value(const StoredValue& v) {
  std::string out;
  ByteWriter w(&out);
  w.u8(kKvFormatVersion);
  w.u64(v.expire_at_ms);
  out.append(v.value);
  return out;
}

storage::Status decode_stored_value(std::string_view data, StoredValue* out) {
  ByteReader in(data);
  uint8_t version = 0;
  if (!in.u8(&version) || version != kKvFormatVersion ||
      !in.u64(&out->expire_at_ms)) {
    return storage::Status::corruption("malformed stored KV value");
  }
  out->value.assign(data.substr(data.size() - in.remaining()));
  return storage::Status::ok();
}

}  // namespace dengine::sm
