// The one place that gives KV commands their meaning, shared by both
// built-in machines. A KvChunkApplier applies the entries of one chunk on
// top of the committed state (a KvBaseStore) into an overlay of pending
// changes, so that a command sees the writes of earlier commands in the same
// chunk; the machine then commits the changes, the clock, the key count and
// last_applied in one atomic write.
//
// Events: with record_events, every change is also reported as a watch
// event (put, delete, expire, with the value the key held before) whose
// revision is the index of the entry that made it, in apply order.
//
// Time: the machine clock is the largest leader timestamp applied so far.
// A command applies at now = max(clock, its timestamp) (a new leader with a
// slower clock cannot bring expired keys back), and first deletes every key
// with expire_at_ms <= now. A key written with a TTL expires at
// now + ttl_ms. Nothing reads a local clock, so every replica applying the
// same entries holds the same keys.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dengine.h"
#include "sm/kv_command.h"
#include "sm/kv_store.h"
#include "storage/status.h"
#include "watch/event.h"

namespace dengine::sm {

class KvChunkApplier {
 public:
  // A key's pending change, with what the base store held before the chunk
  // (to maintain the expiry index and the key count on commit).
  struct Change {
    std::optional<StoredValue> value;  // nullopt: deleted
    std::optional<StoredValue> base;
  };

  KvChunkApplier(KvBaseStore* base, uint64_t clock_ms)
      : base_(base), clock_ms_(clock_ms), swept_ms_(clock_ms) {}

  // Appends the events of the entries applied from now on to *out (nullptr:
  // none are recorded).
  void record_events(std::vector<watch::Event>* out) { events_ = out; }

  // Applies a chunk: entries at or below last_applied get kAlreadyApplied
  // and are skipped, no-op and membership entries get no result, normal ones
  // go through apply(). Refuses (kInvalidArgument) a chunk that is not
  // contiguous or leaves a gap after last_applied.
  storage::Status apply_entries(const dengine_entry* entries, size_t count,
                                uint64_t last_applied,
                                std::vector<std::optional<KvResult>>* results);

  // Applies the data of one normal entry. A malformed command has no effect
  // and gets kBadCommand; an error is only ever the base store's.
  storage::Status apply(std::string_view data, KvResult* result);

  const std::map<std::string, Change, std::less<>>& changes() const {
    return changes_;
  }
  uint64_t clock_ms() const { return clock_ms_; }
  // The change in the number of stored keys.
  int64_t key_count_delta() const;

 private:
  storage::Status get(std::string_view key, std::optional<StoredValue>* out);
  storage::Status set(std::string_view key, std::optional<StoredValue> value);
  storage::Status advance_clock(uint64_t timestamp_ms);
  void emit(watch::EventType type, std::string_view key, std::string value,
            const std::optional<StoredValue>& before);

  KvBaseStore* base_;
  uint64_t clock_ms_;
  // Base keys expiring at or before this were already swept in this chunk.
  uint64_t swept_ms_;
  std::map<std::string, Change, std::less<>> changes_;
  // (expire_at_ms, key) of values with a TTL written in this chunk.
  std::set<std::pair<uint64_t, std::string>> pending_expiries_;
  std::vector<watch::Event>* events_ = nullptr;
  uint64_t revision_ = 0;  // the index of the entry being applied
};

}  // namespace dengine::sm
