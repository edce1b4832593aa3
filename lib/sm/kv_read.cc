#include "sm/kv_read.h"

#include "sm/kv_command.h"

namespace dengine::sm {

using storage::Status;

Status serve_read(KvReadView* view, std::string_view query, std::string* answer,
                  uint64_t* revision) {
  KvRead read;
  if (Status s = decode_read(query, &read); !s) return s;
  if (revision != nullptr) {
    if (Status s = view->revision(revision); !s) return s;
  }
  KvReadAnswer result;
  if (read.type == KvReadType::kScanPrefix) {
    if (Status s = view->scan_prefix(read.prefix, read.limit, &result.entries,
                                     &result.more);
        !s) {
      return s;
    }
  } else {
    for (const std::string& key : read.keys) {
      result.values.emplace_back();
      if (Status s = view->get(key, &result.values.back()); !s) return s;
    }
  }
  *answer = encode_read_answer(read.type, result);
  return Status::ok();
}

}  // namespace dengine::sm
