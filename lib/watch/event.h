// What a watch receives: an Event, one change the state machine applied (a
// key set, deleted or expired, a topic message, a membership change, a new
// leader), and a Filter, which events a watch asked for. An event's
// revision is the Raft log index of the entry that made it; one entry can
// make several events, which then share its revision, in order. Plain
// values: the apply thread builds them, the watch hub shares them, read-only,
// with its delivery thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace dengine::watch {

enum class EventType : uint8_t {
  kPut = 1,             // key set to value (prev_value: what it held, if any)
  kDelete = 2,          // key deleted (prev_value: what it held)
  kExpire = 3,          // key's TTL passed (prev_value: what it held)
  kUser = 4,            // an application machine's message: key = topic
  kMemberAdded = 5,     // node_id added as a learner at `address`
  kMemberPromoted = 6,  // node_id became a voter
  kMemberRemoved = 7,   // node_id removed
  // node_id leads term `term` from its first entry, applied at `revision`
  kLeader = 8,
};

struct Event {
  uint64_t revision = 0;  // the log index of the entry that made it
  EventType type = EventType::kPut;
  std::string key;                        // KV key, or the topic of kUser
  std::string value;                      // kPut: the new value; kUser: bytes
  std::optional<std::string> prev_value;  // kPut/kDelete/kExpire
  uint64_t node_id = 0;                   // membership and leader events
  uint64_t term = 0;                      // kLeader
  std::string address;                    // kMemberAdded

  bool operator==(const Event&) const = default;
};

// The bytes an event is charged in the history's budget: its strings plus a
// fixed overhead for the event itself and its place in the history.
size_t footprint(const Event& event);

// Which events a watch receives.
enum class Stream : uint8_t { kKv = 1, kTopic = 2, kCluster = 3 };

struct Filter {
  Stream stream = Stream::kKv;
  std::string key;      // kKv: the key or prefix; kTopic: the topic or prefix;
                        // kCluster: unused
  bool prefix = false;  // key is a prefix (an empty one matches everything)
};

// kKv: put, delete and expire events whose key equals (or, for a prefix,
// starts with) filter.key; kTopic: kUser events by topic, the same way;
// kCluster: membership and leader events.
bool matches(const Filter& filter, const Event& event);

}  // namespace dengine::watch
