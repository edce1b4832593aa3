#include "net/hello.h"

#include "base/byte_codec.h"

namespace dengine::net {

std::string encode_hello(const Hello& hello) {
  std::string out;
  base::ByteWriter w(&out);
  w.u64(hello.node_id);
  w.u64(hello.cluster_id);
  return out;
}

std::string decode_hello(std::string_view payload, Hello* out) {
  base::ByteReader r(payload);
  Hello hello;
  if (!r.u64(&hello.node_id) || !r.u64(&hello.cluster_id)) {
    return "hello: truncated";
  }
  if (!r.at_end()) return "hello: trailing bytes";
  if (hello.node_id == raft::kNoNode) return "hello: node id 0";
  *out = hello;
  return "";
}

}  // namespace dengine::net
