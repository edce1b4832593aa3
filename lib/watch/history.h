// The node's event history: the recent events of the applied entries, in
// revision order, bounded by HistoryLimits (the oldest revisions go first),
// from which a watch replays the past and in which every watch holds its
// place. Each event gets a position, a sequence number never reused, so a
// watch's place survives eviction and reset. Not thread-safe: the watch Hub
// guards it with its mutex. Events are held as EventRef so that the hub's
// delivery thread can keep the ones it is delivering after they are evicted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "watch/event.h"

namespace dengine::watch {

// What travels from the history to the delivery thread: an event, shared and
// never modified once appended.
using EventRef = std::shared_ptr<const Event>;

struct HistoryLimits {
  size_t max_events = 100000;
  uint64_t max_bytes = 64ull << 20;  // the sum of the events' footprint()
};

class EventHistory {
 public:
  explicit EventHistory(HistoryLimits limits = {});

  // Appends the events of the entries after covered_to() up to `covered_to`:
  // each event's revision in (covered_to(), covered_to], non-decreasing. An
  // entry without events still advances covered_to. Anything else (an event
  // of an entry already covered, revisions out of order, covered_to going
  // back) is the caller's bug: refused, nothing appended, false. Then evicts
  // the oldest revisions while over the limits; see available_from().
  bool append(std::vector<Event> events, uint64_t covered_to);

  // Forgets every event: the events of the entries up to `index` are unknown
  // (a snapshot was installed, or the node restarted). Positions go on from
  // where they were.
  void reset(uint64_t index);

  // The highest log index whose events have all been appended.
  uint64_t covered_to() const { return covered_to_; }
  // The lowest revision from which every event is held: 1 on a fresh
  // history, index + 1 after reset(index), and past each evicted revision.
  // Eviction takes a revision's events together and never the newest
  // revision, so a revision larger than the limits is still held whole
  // until the next one arrives.
  uint64_t available_from() const { return available_from_; }

  size_t event_count() const { return events_.size(); }
  uint64_t bytes() const { return bytes_; }

  // The oldest held event's position; next_position() when none is held.
  uint64_t first_position() const { return first_position_; }
  // The position the next appended event will get.
  uint64_t next_position() const { return first_position_ + events_.size(); }
  // The first held event whose revision is >= `revision`, or
  // next_position() when there is none. Below available_from() the events
  // before first_position() are gone: callers check that first.
  uint64_t position_of(uint64_t revision) const;
  // The position of the newest held event that an exact-key filter of
  // `stream` (kKv: a key; kTopic: a topic) on `key` matches, or nothing when
  // none is held: a watch on one key skips the events of other keys without
  // examining them. Not for prefixes or kCluster.
  std::optional<uint64_t> last_position_of(Stream stream,
                                           std::string_view key) const;

  // first_position() <= position < next_position().
  const Event& at(uint64_t position) const { return *share(position); }
  const EventRef& share(uint64_t position) const {
    return events_[position - first_position_];
  }

 private:
  static bool in_order(const std::vector<Event>& events, uint64_t after,
                       uint64_t covered_to);
  bool over_limits() const;
  void evict_oldest_revision();

  HistoryLimits limits_;
  std::deque<EventRef> events_;
  // "k" + key (KV events) or "t" + topic (user events) -> the position of
  // the newest held event of it; an entry leaves with that event.
  std::unordered_map<std::string, uint64_t> last_of_key_;
  uint64_t first_position_ = 0;
  uint64_t covered_to_ = 0;
  uint64_t available_from_ = 1;
  uint64_t bytes_ = 0;
};

}  // namespace dengine::watch
