// When the state-machine handler takes a snapshot on its own: once enough has
// been applied since the last one, counted in entries and in entry bytes.
#pragma once

#include <cstdint>

namespace dengine::sm {

struct SnapshotPolicy {
  // A snapshot is due once either threshold is reached; 0 disables that
  // threshold (both 0: snapshots only on demand).
  uint64_t entries = 10'000;
  uint64_t bytes = 64ull << 20;

  bool due(uint64_t entries_since, uint64_t bytes_since) const {
    return (entries != 0 && entries_since >= entries) ||
           (bytes != 0 && bytes_since >= bytes);
  }
};

}  // namespace dengine::sm
