// Valid raft messages with every field set, one per message type: the
// round-trip cases of the codec tests and the seeds of the fuzz corpus.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "raft/types.h"

namespace dengine::net::testing {

inline constexpr uint8_t kMessageTypeCount =
    static_cast<uint8_t>(raft::MessageType::kTimeoutNow) + 1;

inline raft::Message full_message(raft::MessageType type) {
  raft::Message m;
  m.type = type;
  m.from = 1;
  m.to = std::numeric_limits<uint64_t>::max();
  m.term = 7;
  m.log_term = 6;
  m.index = 41;
  m.entries = {
      {6, 42, raft::EntryType::kNoop, ""},
      {7, 43, raft::EntryType::kNormal, std::string("put k\0v", 7)},
      {7, 44, raft::EntryType::kConfChange, "conf"},
  };
  m.commit = 40;
  m.reject = true;
  m.reject_hint = 39;
  m.transfer = true;
  m.read_round = 1ull << 40;
  m.context = "read-ctx";
  m.snapshot = raft::Snapshot{{30, 5, {{1, 2, 3}, {4}}}, "inline snapshot"};
  return m;
}

inline std::vector<raft::Message> all_full_messages() {
  std::vector<raft::Message> out;
  for (uint8_t t = 0; t < kMessageTypeCount; ++t) {
    out.push_back(full_message(static_cast<raft::MessageType>(t)));
  }
  return out;
}

}  // namespace dengine::net::testing
