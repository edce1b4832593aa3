// The C ABI's opaque result types (include/dengine.h): what a state machine
// hands back from apply_chunk (one status and byte string per entry) and from
// read. Plain vectors: the handler sizes `entries` to the chunk before
// calling apply_chunk and reads them after; dengine_results_set and
// dengine_read_result_set (lib/capi/results.cc) fill them.
#pragma once

#include <cstdint>
#include <vector>

struct dengine_results {
  struct Entry {
    int32_t status = 0;
    std::vector<uint8_t> data;
  };
  std::vector<Entry> entries;  // one per entry of the chunk, in order
};

struct dengine_read_result {
  std::vector<uint8_t> data;
};
