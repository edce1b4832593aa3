// The C ABI's opaque result types (include/dengine.h): what a state machine
// hands back from apply_chunk (one status and byte string per entry) and from
// read. Plain vectors: the handler sizes `entries` and `indices` to the
// chunk before calling apply_chunk and reads them after;
// dengine_results_set, dengine_events_publish and dengine_read_result_set
// (lib/capi/results.cc) fill them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "dengine.h"
#include "watch/event.h"

struct dengine_results {
  struct Entry {
    int32_t status = 0;
    std::vector<uint8_t> data;
  };
  std::vector<Entry> entries;  // one per entry of the chunk, in order
  // The log index of each entry of the chunk: a published event's revision.
  std::vector<uint64_t> indices;
  // What the machine published for watchers, in entry order.
  std::vector<dengine::watch::Event> events;
  // Set by the handler for the built-in KV machines, which call it just
  // before their durable write (sm/kv_backend.h); empty otherwise.
  std::function<void()> before_commit;
};

struct dengine_read_result {
  std::vector<uint8_t> data;
  // The revision the answer reflects, when the machine knows it (the
  // built-in KV machines: the last entry applied in their read view); 0
  // otherwise.
  uint64_t revision = 0;
};

namespace dengine::sm {

// Readies *results for apply_chunk of entries[0..count): one empty result
// and the log index of each entry, no events.
inline void prepare_results(const dengine_entry* entries, size_t count,
                            dengine_results* results) {
  results->entries.assign(count, {});
  results->indices.resize(count);
  for (size_t i = 0; i < count; ++i) results->indices[i] = entries[i].index;
  results->events.clear();
}

}  // namespace dengine::sm
