// A node's metrics move as the cluster works: Node::metrics() on a
// two-node cluster in one process, and its Prometheus text.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "node/blocking.h"
#include "node/kv.h"
#include "node/node.h"
#include "node_test_support.h"

namespace dengine::node {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
constexpr milliseconds kTimeout{5000};

// The value of `name`'s sample with label value `label` ("" for none), or
// -1 when there is no such sample. Histograms: their count.
double value_of(const Metrics& metrics, const std::string& name,
                const std::string& label = "") {
  const MetricFamily* family = find_family(metrics, name);
  if (family == nullptr) return -1;
  for (const MetricSample& s : family->samples) {
    const std::string value = s.labels.empty() ? "" : s.labels[0].second;
    if (value != label) continue;
    return family->type == MetricType::kHistogram
               ? static_cast<double>(s.histogram.count)
               : s.value;
  }
  return -1;
}

using testing::eventually;
using testing::free_port;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dengine-metrics-" + std::string(info->name()) + "-" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override {
    nodes_.clear();
    fs::remove_all(dir_);
  }

  // Voters 1 and 2.
  void start_pair() {
    const std::map<raft::NodeId, std::string> address = {
        {1, "127.0.0.1:" + std::to_string(free_port())},
        {2, "127.0.0.1:" + std::to_string(free_port())}};
    for (raft::NodeId id : {1, 2}) {
      NodeOptions o;
      o.id = id;
      o.initial_voters = {1, 2};
      o.data_dir = (dir_ / ("node" + std::to_string(id))).string();
      o.listen_address = address.at(id);
      o.tick_interval = milliseconds(10);
      const raft::NodeId other = id == 1 ? 2 : 1;
      o.peers.push_back({other, address.at(other), true});
      std::string error;
      ASSERT_EQ(Node::start(o, &nodes_[id], &error), DENGINE_OK) << error;
    }
  }
  raft::NodeId leader() {
    raft::NodeId found = raft::kNoNode;
    EXPECT_TRUE(eventually([&] {
      for (auto& [id, node] : nodes_) {
        if (node->status().role == raft::Role::kLeader) found = id;
      }
      return found != raft::kNoNode &&
             nodes_.at(found == 1 ? 2 : 1)->status().leader_id == found;
    }));
    return found;
  }

  fs::path dir_;
  std::map<raft::NodeId, std::unique_ptr<Node>> nodes_;
};

TEST_F(MetricsTest, ValuesMoveAsTheClusterWorks) {
  start_pair();
  const raft::NodeId lead = leader();
  const raft::NodeId follower = lead == 1 ? 2 : 1;
  Node& leader_node = *nodes_.at(lead);
  const Metrics before = leader_node.metrics();
  EXPECT_EQ(value_of(before, "dengine_is_leader"), 1);
  EXPECT_EQ(value_of(before, "dengine_role"), DENGINE_ROLE_LEADER);
  EXPECT_GE(value_of(before, "dengine_elections_won_total"), 1);
  EXPECT_EQ(value_of(before, "dengine_voters"), 2);

  for (int i = 0; i < 20; ++i) {
    const KvWriteReply r =
        kv_write(leader_node, sm::KvCommand::put("k" + std::to_string(i), "v"),
                 nullptr, kTimeout);
    ASSERT_EQ(r.reply.status, DENGINE_OK) << r.reply.message;
  }
  // A proposal the follower refuses is counted there by its status.
  const Reply refused =
      nodes_.at(follower)->propose("x", nullptr, milliseconds(2000));
  EXPECT_EQ(refused.status, DENGINE_ERR_NOT_LEADER);

  const Metrics after = leader_node.metrics();
  EXPECT_GE(value_of(after, "dengine_commit_index"),
            value_of(before, "dengine_commit_index") + 20);
  EXPECT_EQ(value_of(after, "dengine_proposals_total", "ok") -
                value_of(before, "dengine_proposals_total", "ok"),
            20);
  EXPECT_GE(value_of(after, "dengine_commit_latency_seconds"), 20);
  EXPECT_GE(value_of(after, "dengine_apply_latency_seconds"), 1);
  EXPECT_GE(value_of(after, "dengine_fsync_latency_seconds"), 1);
  EXPECT_GE(value_of(after, "dengine_fsync_batch_entries"), 1);
  const std::string peer = std::to_string(follower);
  EXPECT_GT(value_of(after, "dengine_peer_messages_sent_total", peer),
            value_of(before, "dengine_peer_messages_sent_total", peer));
  EXPECT_GT(value_of(after, "dengine_peer_bytes_sent_total", peer), 0);
  EXPECT_TRUE(eventually([&] {
    return value_of(leader_node.metrics(), "dengine_peer_match_index", peer) >=
           value_of(after, "dengine_commit_index");
  }));
  EXPECT_EQ(value_of(nodes_.at(follower)->metrics(), "dengine_proposals_total",
                     "not_leader"),
            1);
  EXPECT_EQ(value_of(nodes_.at(follower)->metrics(), "dengine_is_leader"), 0);
}

TEST_F(MetricsTest, TransfersAndSnapshotsAreCounted) {
  start_pair();
  const raft::NodeId lead = leader();
  const raft::NodeId follower = lead == 1 ? 2 : 1;
  const double changes =
      value_of(nodes_.at(follower)->metrics(), "dengine_leader_changes_total");
  const Reply moved = wait_for<Reply>([&](Node::Callback done) {
    nodes_.at(lead)->transfer_leadership_async(follower, kTimeout, done);
  });
  ASSERT_EQ(moved.status, DENGINE_OK) << moved.message;
  EXPECT_TRUE(eventually([&] {
    return value_of(nodes_.at(lead)->metrics(), "dengine_leader_id") ==
           static_cast<double>(follower);
  }));
  EXPECT_GT(
      value_of(nodes_.at(follower)->metrics(), "dengine_leader_changes_total"),
      changes);
  EXPECT_GE(
      value_of(nodes_.at(follower)->metrics(), "dengine_elections_won_total"),
      1);

  const Reply snapshot = wait_for<Reply>([&](Node::Callback done) {
    nodes_.at(follower)->snapshot_async(kTimeout, done);
  });
  ASSERT_EQ(snapshot.status, DENGINE_OK) << snapshot.message;
  const Metrics m = nodes_.at(follower)->metrics();
  EXPECT_EQ(value_of(m, "dengine_snapshots_total"), 1);
  EXPECT_GT(value_of(m, "dengine_snapshot_bytes_total"), 0);
  EXPECT_EQ(value_of(m, "dengine_snapshot_duration_seconds"), 1);
  EXPECT_EQ(value_of(m, "dengine_snapshot_index"),
            static_cast<double>(snapshot.index));
}

// The text format: HELP and TYPE before each family, cumulative histogram
// buckets ending in +Inf equal to _count.
TEST_F(MetricsTest, TheTextFormatIsPrometheus) {
  start_pair();
  leader();
  const std::string text = format_prometheus(nodes_.at(1)->metrics());
  EXPECT_NE(text.find("# TYPE dengine_commit_index gauge\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE dengine_fsync_latency_seconds histogram\n"),
            std::string::npos);
  std::istringstream lines(text);
  std::string line;
  std::string family;
  uint64_t last_bucket = 0;
  int samples = 0;
  while (std::getline(lines, line)) {
    ASSERT_FALSE(line.empty());
    if (line.starts_with("# HELP ")) {
      family = line.substr(7, line.find(' ', 7) - 7);
      last_bucket = 0;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      EXPECT_EQ(line.substr(7, family.size()), family);
      continue;
    }
    ++samples;
    EXPECT_TRUE(line.starts_with(family)) << line << " outside " << family;
    const std::string value = line.substr(line.rfind(' ') + 1);
    EXPECT_FALSE(value.empty()) << line;
    if (line.find("_bucket{") != std::string::npos) {
      const uint64_t n = std::stoull(value);
      EXPECT_GE(n, last_bucket) << line;
      last_bucket = n;
    }
    if (line.starts_with(family + "_count")) {
      EXPECT_EQ(std::stoull(value), last_bucket) << "+Inf != count: " << line;
    }
  }
  EXPECT_GT(samples, 30);
}

}  // namespace
}  // namespace dengine::node
