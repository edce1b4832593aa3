#include "watch/history.h"

#include <algorithm>
#include <utility>

namespace dengine::watch {

namespace {

// The index key of an event an exact-key filter can match, or "".
std::string index_key(const Event& event) {
  switch (event.type) {
    case EventType::kPut:
    case EventType::kDelete:
    case EventType::kExpire:
      return "k" + event.key;
    case EventType::kUser:
      return "t" + event.key;
    default:
      return "";
  }
}

}  // namespace

EventHistory::EventHistory(HistoryLimits limits) : limits_(limits) {}

bool EventHistory::append(std::vector<Event> events, uint64_t covered_to) {
  if (covered_to < covered_to_) return false;
  if (!in_order(events, covered_to_, covered_to)) return false;
  for (Event& event : events) {
    bytes_ += footprint(event);
    if (std::string key = index_key(event); !key.empty()) {
      last_of_key_[std::move(key)] = next_position();
    }
    events_.push_back(std::make_shared<const Event>(std::move(event)));
  }
  covered_to_ = covered_to;
  while (over_limits()) evict_oldest_revision();
  return true;
}

void EventHistory::reset(uint64_t index) {
  first_position_ = next_position();
  events_.clear();
  last_of_key_.clear();
  bytes_ = 0;
  covered_to_ = index;
  available_from_ = index + 1;
}

std::optional<uint64_t> EventHistory::last_position_of(
    Stream stream, std::string_view key) const {
  std::string index(stream == Stream::kKv ? "k" : "t");
  index.append(key);
  auto it = last_of_key_.find(index);
  if (it == last_of_key_.end()) return std::nullopt;
  return it->second;
}

uint64_t EventHistory::position_of(uint64_t revision) const {
  const auto first = std::lower_bound(
      events_.begin(), events_.end(), revision,
      [](const EventRef& event, uint64_t r) { return event->revision < r; });
  return first_position_ + static_cast<uint64_t>(first - events_.begin());
}

bool EventHistory::in_order(const std::vector<Event>& events, uint64_t after,
                            uint64_t covered_to) {
  uint64_t last = after + 1;
  for (const Event& event : events) {
    if (event.revision < last || event.revision > covered_to) return false;
    last = event.revision;
  }
  return true;
}

// The newest revision stays whatever its size: evicting it would fail every
// watch that keeps up, for an entry the apply thread already holds in full.
bool EventHistory::over_limits() const {
  if (events_.empty() || events_.front()->revision == events_.back()->revision)
    return false;
  return events_.size() > limits_.max_events || bytes_ > limits_.max_bytes;
}

void EventHistory::evict_oldest_revision() {
  const uint64_t oldest = events_.front()->revision;
  while (!events_.empty() && events_.front()->revision == oldest) {
    bytes_ -= footprint(*events_.front());
    if (std::string key = index_key(*events_.front()); !key.empty()) {
      auto it = last_of_key_.find(key);
      if (it != last_of_key_.end() && it->second == first_position_) {
        last_of_key_.erase(it);
      }
    }
    events_.pop_front();
    ++first_position_;
  }
  available_from_ = oldest + 1;
}

}  // namespace dengine::watch
