// Which events a filter selects (a key, a prefix, a topic, the cluster), and
// what an event is charged in the history's budget.
#include "watch/event.h"

#include <gtest/gtest.h>

namespace dengine::watch {
namespace {

Event of(EventType type, std::string key = "") {
  Event event;
  event.revision = 1;
  event.type = type;
  event.key = std::move(key);
  return event;
}

Filter kv(std::string key, bool prefix = false) {
  return Filter{Stream::kKv, std::move(key), prefix};
}

Filter topic(std::string key, bool prefix = false) {
  return Filter{Stream::kTopic, std::move(key), prefix};
}

TEST(WatchEvent, KeyFilterMatchesThatKeysPutsDeletesAndExpiries) {
  const Filter filter = kv("a");
  EXPECT_TRUE(matches(filter, of(EventType::kPut, "a")));
  EXPECT_TRUE(matches(filter, of(EventType::kDelete, "a")));
  EXPECT_TRUE(matches(filter, of(EventType::kExpire, "a")));
  EXPECT_FALSE(matches(filter, of(EventType::kPut, "ab")));
  EXPECT_FALSE(matches(filter, of(EventType::kPut, "")));
  EXPECT_FALSE(matches(filter, of(EventType::kUser, "a")));
}

TEST(WatchEvent, PrefixFilterMatchesEveryKeyStartingWithIt) {
  const Filter filter = kv("a/", true);
  EXPECT_TRUE(matches(filter, of(EventType::kPut, "a/")));
  EXPECT_TRUE(matches(filter, of(EventType::kDelete, "a/b/c")));
  EXPECT_FALSE(matches(filter, of(EventType::kPut, "a")));
  EXPECT_FALSE(matches(filter, of(EventType::kPut, "b/a/")));
}

TEST(WatchEvent, EmptyPrefixMatchesEveryKeyButNoOtherStream) {
  const Filter filter = kv("", true);
  EXPECT_TRUE(matches(filter, of(EventType::kPut, "")));
  EXPECT_TRUE(matches(filter, of(EventType::kExpire, "anything")));
  EXPECT_FALSE(matches(filter, of(EventType::kUser, "anything")));
  EXPECT_FALSE(matches(filter, of(EventType::kLeader)));
}

TEST(WatchEvent, TopicFilterMatchesUserEventsByTopic) {
  EXPECT_TRUE(matches(topic("t"), of(EventType::kUser, "t")));
  EXPECT_FALSE(matches(topic("t"), of(EventType::kUser, "t2")));
  EXPECT_FALSE(matches(topic("t"), of(EventType::kPut, "t")));
  EXPECT_TRUE(matches(topic("t", true), of(EventType::kUser, "t2")));
  EXPECT_TRUE(matches(topic("", true), of(EventType::kUser, "")));
}

TEST(WatchEvent, ClusterFilterMatchesMembershipAndLeaderEvents) {
  const Filter filter{Stream::kCluster, "ignored", false};
  EXPECT_TRUE(matches(filter, of(EventType::kMemberAdded)));
  EXPECT_TRUE(matches(filter, of(EventType::kMemberPromoted)));
  EXPECT_TRUE(matches(filter, of(EventType::kMemberRemoved)));
  EXPECT_TRUE(matches(filter, of(EventType::kLeader)));
  EXPECT_FALSE(matches(filter, of(EventType::kPut, "ignored")));
  EXPECT_FALSE(matches(filter, of(EventType::kUser, "ignored")));
}

TEST(WatchEvent, FootprintIsTheStringsPlusAFixedOverhead) {
  const size_t overhead = footprint(Event{});
  EXPECT_GE(overhead, sizeof(Event));

  Event put = of(EventType::kPut, "key");
  put.value = "value";
  put.prev_value = "previous";
  EXPECT_EQ(footprint(put), overhead + 3 + 5 + 8);

  Event added = of(EventType::kMemberAdded);
  added.address = "10.0.0.1:7000";
  EXPECT_EQ(footprint(added), overhead + 13);
}

}  // namespace
}  // namespace dengine::watch
