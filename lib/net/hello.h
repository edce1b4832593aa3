// The hello frame: the first frame each side sends on a new peer connection,
// saying who it is. A node drops a connection whose hello names another
// cluster, or a node id other than the peer it expected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace dengine::net {

struct Hello {
  raft::NodeId node_id = raft::kNoNode;
  uint64_t cluster_id = 0;

  bool operator==(const Hello&) const = default;
};

std::string encode_hello(const Hello& hello);
// Returns an empty string and sets *out, or says what is wrong with `payload`.
std::string decode_hello(std::string_view payload, Hello* out);

}  // namespace dengine::net
