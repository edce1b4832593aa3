// Watches on a cluster of real dengined processes while writers run and the
// leader is killed -9 and restarted: a watcher pinned to each node (the
// killed one's watch waits for its restart and resumes there) and one
// roaming over every node each see every acknowledged write exactly once, in
// revision order, and all see the same sequence; a watch of the cluster
// stream sees the new leader.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/watch.h"
#include "cluster_harness.h"
#include "writers.h"

namespace dengine::cluster_test {
namespace {

using watch::Event;
using watch::EventType;

// What one client watch received, for the test thread to look at.
class WatchLog {
 public:
  WatchLog(const Cluster& cluster, std::vector<uint64_t> ids,
           client::WatchSpec spec) {
    const client::Status s = client::Watch::start(
        cluster.client_options(std::move(ids)), std::move(spec),
        [this](const Event& e) {
          std::lock_guard lock(mutex_);
          events_.push_back(e);
        },
        [this](const watch::WatchEnd& end) {
          std::lock_guard lock(mutex_);
          end_ = end;
        },
        &watch_);
    EXPECT_TRUE(s.ok()) << "watch: " << s.message;
  }
  // Ends the watch before the members its callbacks use go.
  ~WatchLog() { watch_.reset(); }

  std::vector<Event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  bool saw(EventType type, const std::string& key) const {
    std::lock_guard lock(mutex_);
    for (const Event& e : events_) {
      if (e.type == type && e.key == key) return true;
    }
    return false;
  }
  std::optional<watch::WatchEnd> end() const {
    std::lock_guard lock(mutex_);
    return end_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Event> events_;
  std::optional<watch::WatchEnd> end_;
  std::unique_ptr<client::Watch> watch_;  // last: its callbacks use the rest
};

client::WatchSpec prefix_from_the_start(const std::string& prefix) {
  client::WatchSpec spec;
  spec.key = prefix;
  spec.is_prefix = true;
  spec.start_revision = 1;
  return spec;
}

// Puts of distinct keys, in strictly increasing revisions, each written
// key with its value, and every acknowledged write among them.
void expect_each_acknowledged_write_once(
    const std::vector<Event>& events,
    const std::map<std::string, std::string>& acked, const std::string& who) {
  std::set<std::string> keys;
  uint64_t last = 0;
  for (const Event& e : events) {
    ASSERT_EQ(e.type, EventType::kPut) << who << " at " << e.revision;
    ASSERT_GT(e.revision, last) << who << ": out of order at " << e.key;
    last = e.revision;
    ASSERT_TRUE(keys.insert(e.key).second) << who << ": twice: " << e.key;
    ASSERT_EQ(e.value, "value of " + e.key) << who;
  }
  size_t missing = 0;
  for (const auto& [key, value] : acked) {
    if (keys.count(key) == 0 && missing++ < 5) {
      ADD_FAILURE() << who << " missed the acknowledged write of " << key;
    }
  }
  EXPECT_EQ(missing, 0u) << who;
}

TEST(ClusterWatchTest, EveryWatcherSeesEveryAcknowledgedWriteOnceAcrossAKill) {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);

  std::map<std::string, std::unique_ptr<WatchLog>> logs;
  for (uint64_t id : cluster.ids()) {
    logs["the watch on node " + std::to_string(id)] =
        std::make_unique<WatchLog>(cluster, std::vector<uint64_t>{id},
                                   prefix_from_the_start("w"));
  }
  logs["the roaming watch"] = std::make_unique<WatchLog>(
      cluster, std::vector<uint64_t>{}, prefix_from_the_start("w"));
  client::WatchSpec leaders;
  leaders.stream = watch::Stream::kCluster;
  leaders.start_revision = 1;
  WatchLog cluster_events(cluster, {}, leaders);

  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < 2; ++i) {
    writers.push_back(
        std::make_unique<Writer>(cluster, "w" + std::to_string(i) + "-"));
  }
  expect_progress(writers, 200, "before the kill");
  cluster.kill(leader);
  const uint64_t new_leader = cluster.wait_for_leader();
  ASSERT_NE(new_leader, 0u);
  expect_progress(writers, 200, "after the kill");
  cluster.start(leader);
  expect_progress(writers, 100, "after the restart");
  for (auto& w : writers) w->stop();
  std::map<std::string, std::string> acked = merge(writers);

  // One last write, acknowledged: once a watch has it, it has had every
  // write before it.
  auto c = cluster.client();
  ASSERT_TRUE(c->put("wz", "value of wz").ok());
  acked.emplace("wz", "value of wz");
  for (const auto& [who, log] : logs) {
    EXPECT_TRUE(
        eventually([&] { return log->saw(EventType::kPut, "wz"); }, 60s))
        << who << " did not catch up: " << log->events().size() << " events";
  }

  const std::vector<Event> reference = logs.begin()->second->events();
  for (const auto& [who, log] : logs) {
    EXPECT_FALSE(log->end().has_value())
        << who << " ended: " << log->end()->message;
    const std::vector<Event> events = log->events();
    expect_each_acknowledged_write_once(events, acked, who);
    EXPECT_TRUE(events == reference)
        << who << " saw " << events.size() << " events, " << logs.begin()->first
        << " " << reference.size();
  }

  // The cluster stream names the leader elected after the kill.
  EXPECT_TRUE(eventually([&] {
    for (const Event& e : cluster_events.events()) {
      if (e.type == EventType::kLeader && e.node_id == new_leader) return true;
    }
    return false;
  })) << "no leader event for node "
      << new_leader;
  uint64_t term = 0;
  for (const Event& e : cluster_events.events()) {
    if (e.type != EventType::kLeader) continue;
    EXPECT_GT(e.term, term) << "leader events out of term order";
    term = e.term;
  }
  cluster.check_alive();
}

}  // namespace
}  // namespace dengine::cluster_test
