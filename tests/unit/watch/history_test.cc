// The event history's bookkeeping: covered_to through entries without
// events, available_from past evicted revisions (by count and by bytes, a
// revision's events always together, the newest revision kept), reset,
// refused appends, and positions that outlive eviction.
#include "watch/history.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dengine::watch {
namespace {

Event put(uint64_t revision, std::string key, std::string value = "v") {
  Event event;
  event.revision = revision;
  event.type = EventType::kPut;
  event.key = std::move(key);
  event.value = std::move(value);
  return event;
}

// One put per revision, first..last, covering up to last.
bool append_range(EventHistory& history, uint64_t first, uint64_t last) {
  std::vector<Event> events;
  for (uint64_t r = first; r <= last; ++r) events.push_back(put(r, "k"));
  return history.append(std::move(events), last);
}

std::vector<uint64_t> held_revisions(const EventHistory& history) {
  std::vector<uint64_t> revisions;
  for (uint64_t p = history.first_position(); p < history.next_position();
       ++p) {
    revisions.push_back(history.at(p).revision);
  }
  return revisions;
}

TEST(WatchHistory, AFreshHistoryCoversNothingAndHoldsEverythingFromOne) {
  EventHistory history;
  EXPECT_EQ(history.covered_to(), 0u);
  EXPECT_EQ(history.available_from(), 1u);
  EXPECT_EQ(history.event_count(), 0u);
  EXPECT_EQ(history.first_position(), history.next_position());
  EXPECT_EQ(history.position_of(1), history.next_position());
}

TEST(WatchHistory, CoveredToAdvancesThroughEntriesWithoutEvents) {
  EventHistory history;
  ASSERT_TRUE(history.append({}, 5));
  EXPECT_EQ(history.covered_to(), 5u);
  ASSERT_TRUE(history.append({put(7, "a"), put(7, "b")}, 9));
  EXPECT_EQ(history.covered_to(), 9u);
  ASSERT_TRUE(history.append({}, 9));
  EXPECT_EQ(history.covered_to(), 9u);
  EXPECT_EQ(history.available_from(), 1u);
  EXPECT_EQ(held_revisions(history), (std::vector<uint64_t>{7, 7}));
}

TEST(WatchHistory, RefusesEventsOutOfOrderOrOfEntriesAlreadyCovered) {
  EventHistory history;
  ASSERT_TRUE(history.append({put(3, "a")}, 4));
  const uint64_t next = history.next_position();

  EXPECT_FALSE(history.append({put(6, "a"), put(5, "b")}, 6));  // backwards
  EXPECT_FALSE(history.append({put(4, "a")}, 6));  // entry 4 covered
  EXPECT_FALSE(history.append({put(2, "a")}, 6));  // below the last
  EXPECT_FALSE(history.append({put(7, "a")}, 6));  // beyond covered_to
  EXPECT_FALSE(history.append({}, 3));             // covered_to going back

  EXPECT_EQ(history.covered_to(), 4u);
  EXPECT_EQ(history.next_position(), next);
  EXPECT_TRUE(history.append({put(5, "a"), put(5, "b"), put(6, "c")}, 6));
}

TEST(WatchHistory, RevisionZeroIsRefused) {
  EventHistory history;
  EXPECT_FALSE(history.append({put(0, "a")}, 1));
  EXPECT_EQ(history.covered_to(), 0u);
}

TEST(WatchHistory, EvictsTheOldestRevisionsBeyondTheEventCount) {
  EventHistory history(HistoryLimits{.max_events = 10});
  ASSERT_TRUE(append_range(history, 1, 25));
  EXPECT_EQ(history.event_count(), 10u);
  EXPECT_EQ(history.available_from(), 16u);
  EXPECT_EQ(held_revisions(history).front(), 16u);
  EXPECT_EQ(history.covered_to(), 25u);
}

TEST(WatchHistory, EvictsTheOldestRevisionsBeyondTheByteBudget) {
  const std::string value(1000, 'x');
  const uint64_t each = footprint(put(1, "k", value));
  EventHistory history(HistoryLimits{.max_bytes = 3 * each});
  for (uint64_t r = 1; r <= 3; ++r) {
    ASSERT_TRUE(history.append({put(r, "k", value)}, r));
  }
  EXPECT_EQ(history.available_from(), 1u);
  EXPECT_EQ(history.bytes(), 3 * each);

  ASSERT_TRUE(history.append({put(4, "k", value)}, 4));
  EXPECT_EQ(history.available_from(), 2u);
  EXPECT_EQ(history.event_count(), 3u);
  EXPECT_EQ(history.bytes(), 3 * each);
}

TEST(WatchHistory, EvictsAllEventsOfARevisionTogether) {
  EventHistory history(HistoryLimits{.max_events = 4});
  ASSERT_TRUE(history.append({put(1, "a"), put(1, "b"), put(1, "c")}, 1));
  ASSERT_TRUE(history.append({put(2, "a"), put(2, "b")}, 2));
  // Five events: evicting one would do, but revision 1 goes whole.
  EXPECT_EQ(held_revisions(history), (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(history.available_from(), 2u);
}

TEST(WatchHistory, KeepsTheNewestRevisionWholeBeyondTheLimits) {
  EventHistory history(HistoryLimits{.max_events = 2});
  ASSERT_TRUE(history.append({put(1, "a")}, 1));
  ASSERT_TRUE(
      history.append({put(2, "a"), put(2, "b"), put(2, "c"), put(2, "d")}, 2));
  EXPECT_EQ(held_revisions(history), (std::vector<uint64_t>{2, 2, 2, 2}));
  EXPECT_EQ(history.available_from(), 2u);

  ASSERT_TRUE(history.append({put(3, "a")}, 3));
  EXPECT_EQ(held_revisions(history), (std::vector<uint64_t>{3}));
  EXPECT_EQ(history.available_from(), 3u);
}

TEST(WatchHistory, AvailableFromSkipsEntriesWithoutEventsAfterAnEviction) {
  EventHistory history(HistoryLimits{.max_events = 1});
  ASSERT_TRUE(history.append({put(2, "a")}, 2));
  ASSERT_TRUE(history.append({put(9, "a")}, 12));
  // Revision 2 evicted: every event from 3 on is held (3..8 had none).
  EXPECT_EQ(history.available_from(), 3u);
  EXPECT_EQ(history.position_of(3), history.first_position());
}

TEST(WatchHistory, PositionsAreNeverReusedAcrossEvictionAndReset) {
  EventHistory history(HistoryLimits{.max_events = 3});
  ASSERT_TRUE(append_range(history, 1, 5));
  EXPECT_EQ(history.first_position(), 2u);
  EXPECT_EQ(history.next_position(), 5u);
  EXPECT_EQ(history.at(2).revision, 3u);

  history.reset(10);
  EXPECT_EQ(history.first_position(), 5u);
  EXPECT_EQ(history.next_position(), 5u);
  ASSERT_TRUE(history.append({put(11, "a")}, 11));
  EXPECT_EQ(history.at(5).revision, 11u);
}

TEST(WatchHistory, PositionOfFindsTheFirstEventAtOrAfterARevision) {
  EventHistory history;
  ASSERT_TRUE(history.append({put(2, "a"), put(2, "b"), put(5, "c")}, 6));
  const uint64_t first = history.first_position();
  EXPECT_EQ(history.position_of(1), first);
  EXPECT_EQ(history.position_of(2), first);
  EXPECT_EQ(history.position_of(3), first + 2);
  EXPECT_EQ(history.position_of(5), first + 2);
  EXPECT_EQ(history.position_of(6), history.next_position());
  EXPECT_EQ(history.at(first + 1).key, "b");
  EXPECT_EQ(history.share(first + 2)->key, "c");
}

TEST(WatchHistory, ResetForgetsEverythingUpToTheIndex) {
  EventHistory history;
  ASSERT_TRUE(append_range(history, 1, 10));
  history.reset(50);
  EXPECT_EQ(history.covered_to(), 50u);
  EXPECT_EQ(history.available_from(), 51u);
  EXPECT_EQ(history.event_count(), 0u);
  EXPECT_EQ(history.bytes(), 0u);
  EXPECT_FALSE(history.append({put(50, "a")}, 51));
  EXPECT_TRUE(history.append({put(51, "a")}, 51));
  EXPECT_EQ(history.available_from(), 51u);
}

}  // namespace
}  // namespace dengine::watch
