// The simulator's replicated state machine: a rolling hash over every applied
// entry (index, term, type, data) plus the applied index. Two nodes that
// applied the same entries in the same order hold the same hash, so comparing
// hashes index by index proves state-machine safety.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace dengine::testkit {

// A 64-bit digest of an entry's type and data (FNV-1a), used to compare
// entries without keeping them.
uint64_t entry_digest(const raft::Entry& entry);

class SimStateMachine {
 public:
  // The caller guarantees entry.index == applied() + 1.
  void apply(const raft::Entry& entry);

  // Snapshot data: the applied index and the hash.
  std::string serialize() const;
  // Replaces the state with serialized data; false if it is malformed.
  bool restore(std::string_view data);
  void reset();

  raft::Index applied() const { return applied_; }
  uint64_t hash() const { return hash_; }

 private:
  raft::Index applied_ = 0;
  uint64_t hash_ = 0;
};

}  // namespace dengine::testkit
