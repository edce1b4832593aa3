// What the kill -9 test's writer appends: entry contents the parent can
// recompute from the index and term alone.
#pragma once

#include <cstdint>
#include <string>

#include "raft/types.h"
#include "storage/wal_log_store.h"

namespace dengine::crash {

inline std::string kill_entry_data(raft::Index index, raft::Term term) {
  uint64_t x = index * 0x9E3779B97F4A7C15ull ^ term;
  x ^= x >> 29;
  std::string data = std::to_string(index) + "@" + std::to_string(term) + ";";
  data.resize(data.size() + x % 500, static_cast<char>('a' + x % 26));
  return data;
}

// Small segments and cache, so a round rolls over, purges and reads from
// disk.
inline storage::WalOptions kill_test_options(const std::string& dir) {
  storage::WalOptions options;
  options.dir = dir;
  options.segment_bytes = 256 << 10;
  options.cache_bytes = 64 << 10;
  return options;
}

}  // namespace dengine::crash
