// Clusters of real dengined processes on loopback: elections, replication,
// kill -9 of the leader under load, catch-up by snapshot, rolling restarts,
// a linearizability check of concurrent clients across a leader's failure,
// growing a cluster, leadership transfer and removal.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.h"
#include "history.h"
#include "linearizability.h"
#include "writers.h"

namespace dengine::cluster_test {
namespace {

using client::Client;
using client::ReadConsistency;

// Increments a counter key with read-then-compare-and-swap until stopped,
// counting the increments acknowledged and those whose outcome is unknown.
class Incrementer {
 public:
  Incrementer(const Cluster& cluster, std::string key)
      : client_(cluster.client()),
        key_(std::move(key)),
        thread_([this] { run(); }) {}
  ~Incrementer() { stop(); }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t acknowledged() const { return acknowledged_; }
  uint64_t unknown() const { return unknown_; }

 private:
  void run() {
    while (!stopping_) {
      std::optional<std::string> current;
      if (!client_->get(key_, &current, ReadConsistency::kLinearizable).ok()) {
        continue;
      }
      const uint64_t n = current ? std::stoull(*current) : 0;
      bool swapped = false;
      std::optional<std::string_view> expected;
      if (current) expected = *current;
      client::Status s = client_->compare_and_swap(
          key_, expected, std::to_string(n + 1), &swapped);
      if (!s.ok()) {
        ++unknown_;
      } else if (swapped) {
        ++acknowledged_;
      }
    }
  }

  std::unique_ptr<Client> client_;
  const std::string key_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> acknowledged_{0};
  std::atomic<uint64_t> unknown_{0};
  std::thread thread_;  // last: starts once the rest is ready
};

// Reads every key of `expected` through `client` (in batches, each one
// consistent view) and checks its value.
void expect_values(Client& client,
                   const std::map<std::string, std::string>& expected,
                   ReadConsistency consistency, const std::string& where) {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  const auto check_batch = [&] {
    std::vector<std::optional<std::string>> got;
    client::Status s = client.get_multi(keys, &got, consistency);
    ASSERT_TRUE(s.ok()) << where << ": " << s.message;
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(got[i], std::optional<std::string>(values[i]))
          << where << ": key " << keys[i];
    }
    keys.clear();
    values.clear();
  };
  for (const auto& [key, value] : expected) {
    keys.push_back(key);
    values.push_back(value);
    if (keys.size() == 100) check_batch();
  }
  if (!keys.empty()) check_batch();
}

// Writes `count` keys prefix0.. through one client; all must succeed.
std::map<std::string, std::string> write_keys(Client& client,
                                              const std::string& prefix,
                                              int count) {
  std::map<std::string, std::string> written;
  for (int i = 0; i < count; ++i) {
    const std::string key = prefix + std::to_string(i);
    const std::string value = "value of " + key;
    client::Status s = client.put(key, value);
    EXPECT_TRUE(s.ok()) << "put " << key << ": " << s.message;
    if (s.ok()) written.emplace(key, value);
  }
  return written;
}

// An index covering every write the leader has acknowledged: its applied
// index (a write is acknowledged once applied there). Its status may show a
// commit index one behind an acknowledged write for a moment, so the larger
// of the two.
uint64_t settled_index(const Cluster& cluster, uint64_t leader) {
  net::NodeStatus s;
  client::Status st = cluster.status(leader, &s);
  EXPECT_TRUE(st.ok()) << "status of node " << leader << ": " << st.message;
  return std::max(s.commit_index, s.applied_index);
}

// Waits until every running node has applied everything the current leader
// has acknowledged, then reads `expected` from each node's own state.
void expect_replicated_everywhere(
    Cluster& cluster, const std::map<std::string, std::string>& expected) {
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t settled = settled_index(cluster, leader);
  for (uint64_t id : cluster.ids()) {
    if (!cluster.running(id)) continue;
    ASSERT_TRUE(cluster.wait_for_applied(id, settled));
    expect_values(*cluster.client({id}), expected, ReadConsistency::kEventual,
                  "node " + std::to_string(id));
  }
}

// Waits until node `id` sees exactly `expected` as the members.
void expect_members(const Cluster& cluster, uint64_t id,
                    const std::vector<net::Member>& expected) {
  net::NodeStatus s;
  const bool seen = eventually(
      [&] { return cluster.status(id, &s).ok() && s.members == expected; });
  EXPECT_TRUE(seen) << "node " << id << " sees " << s.members.size()
                    << " members";
}

TEST(ClusterTest, ThreeNodesElectALeaderAndReplicate) {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  for (uint64_t id : cluster.ids()) {
    net::NodeStatus s;
    ASSERT_TRUE(cluster.status(id, &s).ok());
    EXPECT_EQ(s.node_id, id);
    EXPECT_EQ(s.leader_id, leader) << "node " << id;
    EXPECT_EQ(s.role,
              id == leader ? raft::Role::kLeader : raft::Role::kFollower)
        << "node " << id;
    std::vector<net::Member> members;
    for (uint64_t m : cluster.ids()) {
      members.push_back({m, cluster.peer_address(m), true});
    }
    EXPECT_EQ(s.members, members) << "node " << id;
  }

  auto c = cluster.client();
  const auto written = write_keys(*c, "key", 100);
  expect_values(*c, written, ReadConsistency::kLinearizable, "the leader");
  expect_replicated_everywhere(cluster, written);
}

TEST(ClusterTest, KillingTheLeaderUnderLoadLosesNoAcknowledgedWrite) {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);

  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < 3; ++i) {
    writers.push_back(
        std::make_unique<Writer>(cluster, "w" + std::to_string(i) + "-"));
  }
  // Two incrementers contend on one counter.
  Incrementer first(cluster, "counter");
  Incrementer second(cluster, "counter");
  expect_progress(writers, 300, "before the kill");

  cluster.kill(leader);
  const uint64_t new_leader = cluster.wait_for_leader();
  ASSERT_NE(new_leader, 0u);
  EXPECT_NE(new_leader, leader);
  expect_progress(writers, 300, "after the kill");
  cluster.start(leader);
  expect_progress(writers, 100, "after the restart");
  for (auto& w : writers) w->stop();
  first.stop();
  second.stop();

  const auto acked = merge(writers);
  auto c = cluster.client();
  expect_values(*c, acked, ReadConsistency::kLinearizable, "the cluster");
  std::optional<std::string> counter;
  ASSERT_TRUE(c->get("counter", &counter, ReadConsistency::kLinearizable).ok());
  const uint64_t count = counter ? std::stoull(*counter) : 0;
  const uint64_t acked_increments =
      first.acknowledged() + second.acknowledged();
  const uint64_t unknown_increments = first.unknown() + second.unknown();
  EXPECT_GE(count, acked_increments);
  EXPECT_LE(count, acked_increments + unknown_increments);
  std::cout << acked.size() << " writes and " << acked_increments
            << " increments acknowledged, " << unknown_increments
            << " increments of unknown outcome; counter " << count << "\n";

  // The old leader caught up from its data directory and the new leader.
  auto everything = acked;
  everything.emplace("counter", std::to_string(count));
  expect_replicated_everywhere(cluster, everything);
}

TEST(ClusterTest, LaggingFollowerCatchesUpFromASnapshot) {
  ClusterOptions options;
  options.storage_toml = "snapshot_entries = 100\n";
  Cluster cluster(options);
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  const uint64_t follower = leader == 1 ? 2 : 1;

  auto c = cluster.client();
  auto written = write_keys(*c, "before", 20);
  ASSERT_TRUE(
      cluster.wait_for_applied(follower, settled_index(cluster, leader)));
  net::NodeStatus before;
  ASSERT_TRUE(cluster.status(follower, &before).ok());
  cluster.kill(follower);

  // Four writers, so that the entries are batched, past several automatic
  // snapshots; then one on demand.
  std::vector<std::thread> threads;
  std::vector<std::map<std::string, std::string>> batches(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      batches[t] =
          write_keys(*cluster.client(), "after" + std::to_string(t) + "-", 150);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& batch : batches) written.insert(batch.begin(), batch.end());
  uint64_t snapshot_index = 0;
  client::Status s = cluster.client({leader})->snapshot(&snapshot_index);
  ASSERT_TRUE(s.ok()) << s.message;
  ASSERT_GT(snapshot_index, before.last_log_index);
  // Once the leader's log is compacted past the follower's last entry, only
  // a snapshot can bring the follower up to date. (The call returns when the
  // snapshot is taken; the compaction follows.)
  net::NodeStatus leader_status;
  const bool compacted = eventually([&] {
    return cluster.status(leader, &leader_status).ok() &&
           leader_status.snapshot_index >= snapshot_index;
  });
  EXPECT_TRUE(compacted) << "the leader's snapshot index is "
                         << leader_status.snapshot_index;

  cluster.start(follower);
  ASSERT_TRUE(
      cluster.wait_for_applied(follower, settled_index(cluster, leader), 60s));
  net::NodeStatus after;
  ASSERT_TRUE(cluster.status(follower, &after).ok());
  EXPECT_GT(after.snapshot_index, before.last_log_index);
  expect_values(*cluster.client({follower}), written,
                ReadConsistency::kEventual, "the follower");
}

TEST(ClusterTest, RollingRestartLosesNoAcknowledgedWrite) {
  Cluster cluster;
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);

  std::vector<std::unique_ptr<Writer>> writers;
  writers.push_back(std::make_unique<Writer>(cluster, "roll-a-"));
  writers.push_back(std::make_unique<Writer>(cluster, "roll-b-"));
  expect_progress(writers, 30, "before the restarts");
  for (uint64_t id : cluster.ids()) {
    SCOPED_TRACE("restarting node " + std::to_string(id));
    cluster.stop(id);
    cluster.start(id);
    const uint64_t leader = cluster.wait_for_leader();
    ASSERT_NE(leader, 0u);
    // Caught up before the next node goes down.
    ASSERT_TRUE(cluster.wait_for_applied(id, settled_index(cluster, leader)));
    expect_progress(writers, 30, "after restarting node " + std::to_string(id));
  }
  for (auto& w : writers) w->stop();

  const auto acked = merge(writers);
  expect_values(*cluster.client(), acked, ReadConsistency::kLinearizable,
                "the cluster");
  expect_replicated_everywhere(cluster, acked);
}

TEST(ClusterTest, ConcurrentClientsAcrossALeaderKillAreLinearizable) {
  Cluster cluster;
  cluster.start_all();
  ASSERT_NE(cluster.wait_for_leader(), 0u);

  History history;
  std::atomic<size_t> completed{0};
  const std::vector<std::string> keys = {"x", "y", "z"};
  // Joined (after a stop request) however the test ends.
  std::vector<std::jthread> clients;
  // Impatient clients: calls give up during a failover, so that writes of
  // unknown outcome (which may still land later) are part of the history.
  client::ClientOptions options = cluster.client_options();
  options.request_timeout = 400ms;
  options.deadline = 800ms;
  for (int id = 0; id < 5; ++id) {
    std::unique_ptr<Client> c;
    ASSERT_TRUE(Client::create(options, &c).ok());
    clients.emplace_back([&, id, c = std::move(c)](std::stop_token stop) {
      std::mt19937 random(1000 + id);
      std::map<std::string, Value> last_seen;
      for (int n = 0; !stop.stop_requested(); ++n) {
        const std::string& key = keys[random() % keys.size()];
        const unsigned choice = random() % 100;
        Operation op;
        op.client = id;
        op.key = key;
        bool ok = false;
        if (choice < 40) {
          op.kind = OpKind::kGet;
          const size_t h = history.call(op);
          Value value;
          ok = c->get(key, &value, ReadConsistency::kLinearizable).ok();
          if (ok) {
            history.returned(h, value);
            last_seen[key] = value;
          } else {
            history.discard(h);
          }
        } else if (choice < 70) {
          op.kind = OpKind::kPut;
          op.value = std::to_string(id) + "." + std::to_string(n);
          const size_t h = history.call(op);
          ok = c->put(key, op.value).ok();
          if (ok) {
            history.returned(h, std::nullopt);
          } else {
            history.unknown(h);
          }
        } else {
          op.kind = OpKind::kCompareAndSwap;
          op.expected = last_seen[key];
          op.value = std::to_string(id) + "." + std::to_string(n);
          const size_t h = history.call(op);
          std::optional<std::string_view> expected;
          if (op.expected) expected = *op.expected;
          bool swapped = false;
          Value current;
          ok = c->compare_and_swap(key, expected, op.value, &swapped, &current)
                   .ok();
          if (ok) {
            history.returned(h, current, swapped);
            last_seen[key] = current;
          } else {
            history.unknown(h);
          }
        }
        if (ok) ++completed;
        // Random think time, so that calls overlap in varied ways.
        std::this_thread::sleep_for(std::chrono::microseconds(random() % 3000));
      }
    });
  }
  const auto expect_completed = [&](size_t more, const char* when) {
    const size_t target = completed + more;
    EXPECT_TRUE(eventually([&] { return completed >= target; }, 60s))
        << "operations stalled " << when << " at " << completed;
  };
  expect_completed(200, "at first");
  // Two rounds: kill -9 the leader, go on without it, bring it back.
  for (int round = 0; round < 2; ++round) {
    const uint64_t killed = cluster.wait_for_leader();
    ASSERT_NE(killed, 0u);
    cluster.kill(killed);
    EXPECT_NE(cluster.wait_for_leader(), 0u);
    expect_completed(200, "after the kill");
    cluster.start(killed);
    expect_completed(200, "after the restart");
  }
  for (auto& t : clients) t.request_stop();
  clients.clear();

  const std::vector<Operation> operations = history.operations();
  size_t unknown = 0;
  for (const Operation& op : operations) unknown += op.known ? 0 : 1;
  std::cout << operations.size() << " operations, " << unknown
            << " of unknown outcome\n";
  const LinearizabilityResult result = check_linearizable(operations);
  EXPECT_TRUE(result.linearizable) << result.explanation;
}

TEST(ClusterTest, GrowsFromOneNodeToThree) {
  ClusterOptions options;
  options.initial_voters = {1};
  Cluster cluster(options);
  cluster.start(1);
  ASSERT_EQ(cluster.wait_for_leader(), 1u);
  auto c = cluster.client({1});
  auto written = write_keys(*c, "early", 50);

  for (uint64_t id : {2, 3}) {
    SCOPED_TRACE("adding node " + std::to_string(id));
    cluster.start(id);
    client::Status s = c->add_learner(id, cluster.peer_address(id));
    ASSERT_TRUE(s.ok()) << s.message;
    // Promotion waits for the learner to catch up: BUSY until then.
    client::Status promoted;
    EXPECT_TRUE(eventually(
        [&] {
          promoted = c->promote(id);
          return promoted.code != DENGINE_ERR_BUSY;
        },
        60s));
    ASSERT_TRUE(promoted.ok()) << promoted.message;
  }

  std::vector<net::Member> expected;
  for (uint64_t id : cluster.ids()) {
    expected.push_back({id, cluster.peer_address(id), true});
  }
  for (uint64_t id : cluster.ids()) expect_members(cluster, id, expected);
  std::vector<net::Member> members;
  ASSERT_TRUE(c->members(&members).ok());
  EXPECT_EQ(members, expected);
  expect_replicated_everywhere(cluster, written);

  auto more = write_keys(*cluster.client(), "late", 20);
  written.insert(more.begin(), more.end());
  expect_replicated_everywhere(cluster, written);
}

TEST(ClusterTest, TransfersLeadershipAndRemovesANode) {
  Cluster cluster;
  cluster.start_all();
  const uint64_t leader = cluster.wait_for_leader();
  ASSERT_NE(leader, 0u);
  auto c = cluster.client();
  auto written = write_keys(*c, "first", 20);

  const uint64_t target = leader % 3 + 1;
  client::Status s = c->transfer_leader(target);
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_EQ(cluster.wait_for_leader(), target);

  // Neither the old leader nor the new one. Right after the transfer the new
  // leader may not yet have committed an entry of its term: BUSY, retry.
  const uint64_t removed = target % 3 + 1;
  for (int attempt = 0; attempt < 200; ++attempt) {
    s = c->remove_node(removed);
    if (s.code != DENGINE_ERR_BUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(s.ok()) << s.message;
  std::vector<net::Member> expected;
  for (uint64_t id : cluster.ids()) {
    if (id != removed) expected.push_back({id, cluster.peer_address(id), true});
  }
  for (uint64_t id : cluster.ids()) {
    if (id != removed) expect_members(cluster, id, expected);
  }
  cluster.stop(removed);

  // The two left carry on.
  auto more = write_keys(*c, "second", 20);
  written.insert(more.begin(), more.end());
  expect_values(*c, written, ReadConsistency::kLinearizable, "the cluster");
  expect_replicated_everywhere(cluster, written);
}

// A leader frozen (SIGSTOP) past its lease, while the others elect a new
// leader and accept a write, must not answer a lease read from its old state
// when it wakes: its lease is measured on the monotonic clock, which kept
// running, not in timer callbacks, which did not.
TEST(ClusterTest, APausedLeaderNeverServesAStaleLeaseRead) {
  Cluster cluster;
  cluster.start_all();
  const uint64_t old_leader = cluster.wait_for_leader();
  ASSERT_NE(old_leader, 0u);
  auto c = cluster.client();
  ASSERT_TRUE(c->put("k", "old").ok());
  auto at_old_leader = cluster.client({old_leader});
  std::optional<std::string> value;
  ASSERT_TRUE(at_old_leader->get("k", &value, ReadConsistency::kLease).ok());
  ASSERT_EQ(value, "old");

  cluster.pause(old_leader);
  std::vector<uint64_t> others;
  for (uint64_t id : cluster.ids()) {
    if (id != old_leader) others.push_back(id);
  }
  ASSERT_TRUE(eventually([&] {
    net::NodeStatus s;
    return cluster.status(others[0], &s).ok() && s.leader_id != 0 &&
           s.leader_id != old_leader;
  }));
  auto at_others = cluster.client(others);
  ASSERT_TRUE(at_others->put("k", "new").ok());

  cluster.resume(old_leader);
  // Whatever the old leader answers at once (or wherever it redirects),
  // it is never the overwritten value.
  for (int i = 0; i < 20; ++i) {
    value.reset();
    const client::Status s =
        at_old_leader->get("k", &value, ReadConsistency::kLease);
    if (s.ok()) {
      EXPECT_EQ(value, "new") << "stale lease read, attempt " << i;
    }
  }
  cluster.check_alive();
}

}  // namespace
}  // namespace dengine::cluster_test
