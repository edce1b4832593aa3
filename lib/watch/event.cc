#include "watch/event.h"

#include <memory>

namespace dengine::watch {

namespace {

// The event, the shared_ptr control block it lives in and its slot in the
// history's deque.
constexpr size_t kEventOverhead =
    sizeof(Event) + 2 * sizeof(std::shared_ptr<const Event>);

bool key_matches(const Filter& filter, const std::string& key) {
  return filter.prefix ? key.starts_with(filter.key) : key == filter.key;
}

}  // namespace

size_t footprint(const Event& event) {
  return kEventOverhead + event.key.size() + event.value.size() +
         (event.prev_value ? event.prev_value->size() : 0) +
         event.address.size();
}

bool matches(const Filter& filter, const Event& event) {
  switch (event.type) {
    case EventType::kPut:
    case EventType::kDelete:
    case EventType::kExpire:
      return filter.stream == Stream::kKv && key_matches(filter, event.key);
    case EventType::kUser:
      return filter.stream == Stream::kTopic && key_matches(filter, event.key);
    case EventType::kMemberAdded:
    case EventType::kMemberPromoted:
    case EventType::kMemberRemoved:
    case EventType::kLeader:
      return filter.stream == Stream::kCluster;
  }
  return false;
}

}  // namespace dengine::watch
