// The engine's own events of an applied chunk: leaders from the no-ops they
// append, membership from conf-change entries, merged in revision order with
// what the machine published.
#include "sm/chunk_events.h"

#include <gtest/gtest.h>

#include "raft/conf_change.h"

namespace dengine::sm {
namespace {

using watch::Event;
using watch::EventType;

raft::Entry conf_entry(raft::Index index, raft::ConfChange change,
                       raft::ConfState conf) {
  raft::Entry entry;
  entry.term = 1;
  entry.index = index;
  entry.type = raft::EntryType::kConfChange;
  entry.data = raft::encode_conf_change({std::move(change), std::move(conf)});
  return entry;
}

raft::Entry noop(raft::Index index, raft::Term term, std::string data) {
  return raft::Entry{term, index, raft::EntryType::kNoop, std::move(data)};
}

Event user_event(uint64_t revision, std::string topic) {
  Event event;
  event.revision = revision;
  event.type = EventType::kUser;
  event.key = std::move(topic);
  return event;
}

TEST(ChunkEventsTest, ANewLeadersNoopNamesItAndItsTerm) {
  std::vector<Event> events;
  append_cluster_events(noop(7, 3, raft::encode_noop(2)), &events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kLeader);
  EXPECT_EQ(events[0].revision, 7u);
  EXPECT_EQ(events[0].node_id, 2u);
  EXPECT_EQ(events[0].term, 3u);
  // A no-op written before 0.2.0 names no leader.
  events.clear();
  append_cluster_events(noop(8, 4, ""), &events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].node_id, raft::kNoNode);
  EXPECT_EQ(raft::decode_noop_leader("short"), raft::kNoNode);
}

TEST(ChunkEventsTest, MembershipChangesAreEvents) {
  std::vector<Event> events;
  append_cluster_events(
      conf_entry(1, {raft::ConfChangeType::kBootstrap, raft::kNoNode, ""},
                 {{1, 2}, {}}),
      &events);
  append_cluster_events(
      conf_entry(5, {raft::ConfChangeType::kAddLearner, 3, "10.0.0.3:7003"},
                 {{1, 2}, {3}}),
      &events);
  append_cluster_events(
      conf_entry(6, {raft::ConfChangeType::kPromoteLearner, 3, ""},
                 {{1, 2, 3}, {}}),
      &events);
  append_cluster_events(
      conf_entry(9, {raft::ConfChangeType::kRemoveNode, 1, ""}, {{2, 3}, {}}),
      &events);
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events[0].type, EventType::kMemberAdded);
  EXPECT_EQ(events[0].node_id, 1u);
  EXPECT_EQ(events[1].type, EventType::kMemberPromoted);
  EXPECT_EQ(events[1].node_id, 1u);
  EXPECT_EQ(events[2].type, EventType::kMemberAdded);
  EXPECT_EQ(events[3].type, EventType::kMemberPromoted);
  EXPECT_EQ(events[3].node_id, 2u);
  EXPECT_EQ(events[4].type, EventType::kMemberAdded);
  EXPECT_EQ(events[4].node_id, 3u);
  EXPECT_EQ(events[4].address, "10.0.0.3:7003");
  EXPECT_EQ(events[4].revision, 5u);
  EXPECT_EQ(events[5].type, EventType::kMemberPromoted);
  EXPECT_EQ(events[6].type, EventType::kMemberRemoved);
  EXPECT_EQ(events[6].node_id, 1u);
  EXPECT_EQ(events[6].revision, 9u);
}

TEST(ChunkEventsTest, NormalEntriesHaveNoEngineEvents) {
  std::vector<Event> events;
  append_cluster_events(raft::Entry{1, 4, raft::EntryType::kNormal, "x"},
                        &events);
  // An undecodable conf change reports nothing rather than a wrong member.
  raft::Entry bad{1, 5, raft::EntryType::kConfChange, "garbage"};
  append_cluster_events(bad, &events);
  EXPECT_TRUE(events.empty());
}

TEST(ChunkEventsTest, MergesWithTheMachinesEventsInRevisionOrder) {
  std::vector<raft::Entry> entries = {
      raft::Entry{2, 10, raft::EntryType::kNormal, "a"},
      noop(11, 3, raft::encode_noop(1)),
      raft::Entry{3, 12, raft::EntryType::kNormal, "b"},
  };
  std::vector<Event> machine = {user_event(10, "t1"), user_event(10, "t2"),
                                user_event(12, "t3")};
  std::vector<Event> events = chunk_events(entries, machine);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].key, "t1");
  EXPECT_EQ(events[1].key, "t2");
  EXPECT_EQ(events[2].type, EventType::kLeader);
  EXPECT_EQ(events[3].key, "t3");
  // Nothing but the machine's, or nothing but the engine's.
  EXPECT_EQ(chunk_events({entries[0]}, machine).size(), 3u);
  EXPECT_EQ(chunk_events(entries, {}).size(), 1u);
}

}  // namespace
}  // namespace dengine::sm
