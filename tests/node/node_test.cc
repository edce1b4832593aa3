// Nodes in one process on loopback: a real transport, real storage, the
// built-in RocksDB KV machine. Elections, replication, reads at every
// consistency, failover and restart, growing and shrinking the cluster,
// leadership transfer, snapshots shipped to a node that joins late, and
// exactly-once writes through sessions.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <random>
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

using testing::eventually;
using testing::free_port;

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dengine-node-" + std::string(info->name()) + "-" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    nodes_.clear();
    fs::remove_all(dir_);
  }

  NodeOptions options_for(raft::NodeId id) {
    NodeOptions options;
    options.id = id;
    options.data_dir = (dir_ / ("node" + std::to_string(id))).string();
    if (!ports_.count(id)) ports_[id] = free_port();
    options.listen_address = address_of(id);
    options.tick_interval = milliseconds(20);
    return options;
  }
  std::string address_of(raft::NodeId id) {
    return "127.0.0.1:" + std::to_string(ports_.at(id));
  }

  // A new cluster of voters 1..n.
  void start_cluster(int n) {
    for (raft::NodeId id = 1; id <= static_cast<raft::NodeId>(n); ++id) {
      ports_[id] = free_port();
    }
    for (raft::NodeId id = 1; id <= static_cast<raft::NodeId>(n); ++id) {
      NodeOptions options = options_for(id);
      for (raft::NodeId peer = 1; peer <= static_cast<raft::NodeId>(n);
           ++peer) {
        options.initial_voters.push_back(peer);
        if (peer != id) options.peers.push_back({peer, address_of(peer), true});
      }
      start(id, options);
    }
  }

  void start(raft::NodeId id, NodeOptions options) {
    std::string error;
    std::unique_ptr<Node> node;
    ASSERT_EQ(Node::start(std::move(options), &node, &error), DENGINE_OK)
        << error;
    nodes_[id] = std::move(node);
  }

  void stop(raft::NodeId id) {
    EXPECT_EQ(nodes_.at(id)->stop(), DENGINE_OK);
    nodes_.erase(id);
  }

  // The leader all running nodes agree on.
  raft::NodeId leader() {
    raft::NodeId agreed = raft::kNoNode;
    EXPECT_TRUE(eventually([&] {
      agreed = raft::kNoNode;
      for (auto& [id, node] : nodes_) {
        const NodeStatus s = node->status();
        if (s.leader_id == raft::kNoNode) return false;
        if (agreed != raft::kNoNode && agreed != s.leader_id) return false;
        agreed = s.leader_id;
      }
      return agreed != raft::kNoNode && nodes_.count(agreed) &&
             nodes_.at(agreed)->status().role == raft::Role::kLeader;
    }));
    return agreed;
  }

  KvWriteReply put(raft::NodeId id, const std::string& key,
                   const std::string& value) {
    return kv_write(*nodes_.at(id), sm::KvCommand::put(key, value), nullptr,
                    kTimeout);
  }
  // Retries at the leader until the put applies.
  void put_at_leader(const std::string& key, const std::string& value) {
    ASSERT_TRUE(eventually([&] {
      const KvWriteReply r = put(leader(), key, value);
      return r.reply.status == DENGINE_OK;
    })) << key;
  }
  std::optional<std::string> get(raft::NodeId id, const std::string& key,
                                 ReadConsistency consistency) {
    const KvReadReply r =
        kv_read(*nodes_.at(id), sm::KvRead::get(key), consistency, kTimeout);
    EXPECT_EQ(r.reply.status, DENGINE_OK) << r.reply.message;
    if (r.answer.values.size() != 1) return std::nullopt;
    return r.answer.values[0];
  }

  fs::path dir_;
  std::map<raft::NodeId, uint16_t> ports_;
  std::map<raft::NodeId, std::unique_ptr<Node>> nodes_;
};

TEST_F(NodeTest, BadOptionsAreRefusedWithTheField) {
  NodeOptions options = options_for(1);
  options.initial_voters = {2, 3};
  std::unique_ptr<Node> node;
  std::string error;
  EXPECT_EQ(Node::start(options, &node, &error), DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(error.find("initial_voters"), std::string::npos) << error;
  options.initial_voters = {};
  options.listen_address = "localhost";
  EXPECT_EQ(Node::start(options, &node, &error), DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(error.find("peer_address"), std::string::npos) << error;
}

TEST_F(NodeTest, SingleNodeServesEveryKvOperation) {
  NodeOptions options = options_for(1);
  options.initial_voters = {1};
  start(1, options);
  ASSERT_EQ(leader(), 1u);
  Node& node = *nodes_.at(1);

  KvWriteReply w =
      kv_write(node, sm::KvCommand::put("a", "1"), nullptr, kTimeout);
  ASSERT_EQ(w.reply.status, DENGINE_OK) << w.reply.message;
  EXPECT_FALSE(w.result.found);
  for (ReadConsistency c :
       {ReadConsistency::kLinearizable, ReadConsistency::kLease,
        ReadConsistency::kEventual}) {
    EXPECT_EQ(get(1, "a", c), "1") << to_string(c);
  }
  w = kv_write(node, sm::KvCommand::compare_and_swap("a", "0", "2"), nullptr,
               kTimeout);
  ASSERT_EQ(w.reply.status, DENGINE_OK);
  EXPECT_EQ(w.result.code, sm::KvResultCode::kCasFailed);
  w = kv_write(node, sm::KvCommand::compare_and_swap("a", "1", "2"), nullptr,
               kTimeout);
  EXPECT_EQ(w.result.code, sm::KvResultCode::kOk);
  EXPECT_EQ(get(1, "a", ReadConsistency::kLinearizable), "2");
  w = kv_write(node, sm::KvCommand::put("ab", "3"), nullptr, kTimeout);
  const KvReadReply scan = kv_read(node, sm::KvRead::scan_prefix("a", 10),
                                   ReadConsistency::kLinearizable, kTimeout);
  ASSERT_EQ(scan.answer.entries.size(), 2u);
  EXPECT_EQ(scan.answer.entries[1].first, "ab");
  w = kv_write(node, sm::KvCommand::erase("a"), nullptr, kTimeout);
  EXPECT_TRUE(w.result.found);
  EXPECT_EQ(get(1, "a", ReadConsistency::kLinearizable), std::nullopt);

  const NodeStatus s = node.status();
  EXPECT_EQ(s.role, raft::Role::kLeader);
  EXPECT_GE(s.commit_index, 5u);
  EXPECT_EQ(s.applied_index, s.commit_index);
  ASSERT_EQ(s.members.size(), 1u);
  EXPECT_EQ(s.members[0].address, address_of(1));
}

TEST_F(NodeTest, RequestsRightAfterStartWaitForTheElection) {
  NodeOptions options = options_for(1);
  options.initial_voters = {1};
  start(1, options);
  // No leader yet: the write and the read wait for the election.
  KvWriteReply w =
      kv_write(*nodes_.at(1), sm::KvCommand::put("k", "v"), nullptr, kTimeout);
  ASSERT_EQ(w.reply.status, DENGINE_OK) << w.reply.message;
  EXPECT_EQ(get(1, "k", ReadConsistency::kLinearizable), "v");
}

TEST_F(NodeTest, ThreeNodesReplicateAndFollowersRedirect) {
  start_cluster(3);
  const raft::NodeId lead = leader();
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(
        put(lead, "k" + std::to_string(i), std::to_string(i)).reply.status,
        DENGINE_OK);
  }
  const raft::NodeId follower = lead == 1 ? 2 : 1;
  // A linearizable read on a follower sees every acknowledged write.
  EXPECT_EQ(get(follower, "k49", ReadConsistency::kLinearizable), "49");
  const KvWriteReply refused = put(follower, "x", "y");
  EXPECT_EQ(refused.reply.status, DENGINE_ERR_NOT_LEADER);
  EXPECT_EQ(refused.reply.leader_id, lead);
  EXPECT_EQ(refused.reply.leader_address, address_of(lead));
  // Every replica applies everything.
  const raft::Index commit = nodes_.at(lead)->status().commit_index;
  for (auto& [id, node] : nodes_) {
    EXPECT_TRUE(eventually([&] {
      return node->status().applied_index >= commit;
    })) << "node "
        << id;
  }
}

TEST_F(NodeTest, LeaderStopsAndTheClusterMovesOnThenItCatchesUp) {
  start_cluster(3);
  raft::NodeId lead = leader();
  for (int i = 0; i < 20; ++i) put_at_leader("a" + std::to_string(i), "v");
  NodeOptions old_options = options_for(lead);
  old_options.initial_voters = {1, 2, 3};
  for (raft::NodeId peer = 1; peer <= 3; ++peer) {
    if (peer != lead)
      old_options.peers.push_back({peer, address_of(peer), true});
  }
  stop(lead);
  const raft::NodeId next = leader();
  ASSERT_NE(next, lead);
  for (int i = 0; i < 20; ++i) put_at_leader("b" + std::to_string(i), "w");
  EXPECT_EQ(get(next, "a0", ReadConsistency::kLinearizable), "v");

  start(lead, old_options);  // restarts from its data directory
  const raft::Index commit = nodes_.at(next)->status().commit_index;
  ASSERT_TRUE(eventually(
      [&] { return nodes_.at(lead)->status().applied_index >= commit; }));
  EXPECT_EQ(get(lead, "b19", ReadConsistency::kEventual), "w");
  EXPECT_EQ(get(lead, "a19", ReadConsistency::kEventual), "v");
}

TEST_F(NodeTest, GrowsFromOneToThreeAndShrinks) {
  NodeOptions first = options_for(1);
  first.initial_voters = {1};
  start(1, first);
  ASSERT_EQ(leader(), 1u);
  put_at_leader("before", "1");
  for (raft::NodeId id : {2, 3}) {
    NodeOptions joiner = options_for(id);
    joiner.peers = {{1, address_of(1), true}};
    start(id, joiner);
    Reply r = wait_for<Reply>([&](Node::Callback done) {
      nodes_.at(1)->add_learner_async(id, address_of(id), kTimeout, done);
    });
    ASSERT_EQ(r.status, DENGINE_OK) << r.message;
    ASSERT_TRUE(eventually([&] {
      r = wait_for<Reply>([&](Node::Callback done) {
        nodes_.at(1)->promote_async(id, kTimeout, done);
      });
      return r.status == DENGINE_OK;
    })) << r.message;
  }
  const NodeStatus s = nodes_.at(1)->status();
  ASSERT_EQ(s.members.size(), 3u);
  for (const Member& m : s.members) EXPECT_TRUE(m.voter) << m.id;
  put_at_leader("after", "3");
  EXPECT_EQ(get(3, "before", ReadConsistency::kLinearizable), "1");
  EXPECT_EQ(get(2, "after", ReadConsistency::kLinearizable), "3");

  Reply removed = wait_for<Reply>([&](Node::Callback done) {
    nodes_.at(leader())->remove_node_async(3, kTimeout, done);
  });
  ASSERT_EQ(removed.status, DENGINE_OK) << removed.message;
  EXPECT_EQ(nodes_.at(1)->status().members.size(), 2u);
}

TEST_F(NodeTest, LeadershipTransfers) {
  start_cluster(3);
  const raft::NodeId lead = leader();
  put_at_leader("k", "v");
  const raft::NodeId target = lead == 3 ? 1 : lead + 1;
  const Reply r = wait_for<Reply>([&](Node::Callback done) {
    nodes_.at(lead)->transfer_leadership_async(target, kTimeout, done);
  });
  ASSERT_EQ(r.status, DENGINE_OK) << r.message;
  EXPECT_EQ(leader(), target);
  EXPECT_EQ(get(target, "k", ReadConsistency::kLease), "v");
}

TEST_F(NodeTest, ALateNodeGetsTheSnapshotOverTheNetwork) {
  NodeOptions first = options_for(1);
  first.initial_voters = {1};
  first.snapshot_policy = {0, 0};
  start(1, first);
  for (int i = 0; i < 200; ++i) {
    put_at_leader("s" + std::to_string(i), std::string(1000, 'x'));
  }
  const Reply snap = wait_for<Reply>([&](Node::Callback done) {
    nodes_.at(1)->snapshot_async(kTimeout, done);
  });
  ASSERT_EQ(snap.status, DENGINE_OK) << snap.message;
  EXPECT_GE(snap.index, 200u);
  ASSERT_TRUE(eventually(
      [&] { return nodes_.at(1)->status().snapshot_index >= snap.index; }));

  NodeOptions joiner = options_for(2);
  joiner.peers = {{1, address_of(1), true}};
  start(2, joiner);
  const Reply r = wait_for<Reply>([&](Node::Callback done) {
    nodes_.at(1)->add_learner_async(2, address_of(2), kTimeout, done);
  });
  ASSERT_EQ(r.status, DENGINE_OK) << r.message;
  ASSERT_TRUE(eventually(
      [&] { return nodes_.at(2)->status().applied_index >= snap.index; }));
  EXPECT_EQ(get(2, "s0", ReadConsistency::kEventual), std::string(1000, 'x'));
  EXPECT_GE(nodes_.at(2)->status().snapshot_index, snap.index);
}

TEST_F(NodeTest, ARetriedSessionWriteAppliesOnce) {
  NodeOptions options = options_for(1);
  options.initial_voters = {1};
  start(1, options);
  ASSERT_EQ(leader(), 1u);
  Node& node = *nodes_.at(1);
  const Reply opened = node.open_session(kTimeout);
  ASSERT_EQ(opened.status, DENGINE_OK) << opened.message;
  // The id is the registration's log index: the last entry so far.
  EXPECT_GT(opened.index, 0u);
  EXPECT_EQ(opened.index, node.status().last_log_index);
  const Session session{opened.index, 1, 0};
  KvWriteReply first =
      kv_write(node, sm::KvCommand::put("counter", "1"), &session, kTimeout);
  ASSERT_EQ(first.reply.status, DENGINE_OK);
  EXPECT_FALSE(first.reply.duplicate);
  // The same seq again (a retry after a lost reply), now with another value:
  // not applied; the first outcome is returned.
  KvWriteReply retry =
      kv_write(node, sm::KvCommand::put("counter", "2"), &session, kTimeout);
  ASSERT_EQ(retry.reply.status, DENGINE_OK);
  EXPECT_TRUE(retry.reply.duplicate);
  EXPECT_EQ(get(1, "counter", ReadConsistency::kLinearizable), "1");
  const Session next{opened.index, 2, 1};
  KvWriteReply second =
      kv_write(node, sm::KvCommand::put("counter", "3"), &next, kTimeout);
  EXPECT_FALSE(second.reply.duplicate);
  EXPECT_EQ(get(1, "counter", ReadConsistency::kLinearizable), "3");

  // Another registration opens another session, with a higher id.
  const Reply again = node.open_session(kTimeout);
  ASSERT_EQ(again.status, DENGINE_OK) << again.message;
  EXPECT_GT(again.index, opened.index);
}

TEST_F(NodeTest, ASessionNeverOpenedIsRefusedUnapplied) {
  NodeOptions options = options_for(1);
  options.initial_voters = {1};
  start(1, options);
  ASSERT_EQ(leader(), 1u);
  Node& node = *nodes_.at(1);
  const Session made_up{0xC11E47, 1, 0};
  KvWriteReply refused =
      kv_write(node, sm::KvCommand::put("k", "v"), &made_up, kTimeout);
  EXPECT_EQ(refused.reply.status, DENGINE_ERR_SESSION_EXPIRED);
  EXPECT_NE(refused.reply.message.find("open a new session"), std::string::npos)
      << refused.reply.message;
  EXPECT_EQ(get(1, "k", ReadConsistency::kLinearizable), std::nullopt);
}

TEST_F(NodeTest, RestartKeepsEverythingAndStopIsIdempotent) {
  NodeOptions options = options_for(1);
  options.initial_voters = {1};
  start(1, options);
  for (int i = 0; i < 30; ++i) put_at_leader("r" + std::to_string(i), "v");
  EXPECT_EQ(nodes_.at(1)->stop(), DENGINE_OK);
  EXPECT_EQ(nodes_.at(1)->stop(), DENGINE_OK);
  const Reply late = nodes_.at(1)->propose("x", nullptr, kTimeout);
  EXPECT_EQ(late.status, DENGINE_ERR_SHUTTING_DOWN);
  nodes_.erase(1);
  start(1, options);
  ASSERT_EQ(leader(), 1u);
  EXPECT_EQ(get(1, "r29", ReadConsistency::kLinearizable), "v");
}

// Once set_leader_change_callback returns, the previous callback is not
// running: its context may be freed at once (ASan reports the use after free
// if a replacement returns while the old callback still runs).
TEST_F(NodeTest, ReplacingTheLeaderCallbackWaitsForARunningCall) {
  start_cluster(2);
  const raft::NodeId lead = leader();
  const raft::NodeId follower = lead == 1 ? 2 : 1;
  struct Context {
    std::atomic<bool> entered{false};
    std::atomic<bool> replaced{false};
    int value = 7;
  };
  auto* context = new Context;
  std::atomic<bool> saw_replacement_early{false};
  std::atomic<int> value_seen{0};
  nodes_.at(follower)->set_leader_change_callback(
      [context, &saw_replacement_early, &value_seen](uint64_t, uint64_t) {
        if (context->entered.exchange(true)) return;
        // Long enough for a replacement that does not wait to return and
        // free the context; a waiting one returns only after this.
        std::this_thread::sleep_for(milliseconds(200));
        saw_replacement_early = context->replaced.load();
        value_seen = context->value;
      });
  auto transferred = std::make_shared<std::promise<Reply>>();
  nodes_.at(lead)->transfer_leadership_async(
      follower, kTimeout,
      [transferred](Reply reply) { transferred->set_value(std::move(reply)); });
  ASSERT_TRUE(eventually([&] { return context->entered.load(); }));
  nodes_.at(follower)->set_leader_change_callback(nullptr);
  context->replaced = true;
  delete context;
  const Reply r = transferred->get_future().get();
  EXPECT_EQ(r.status, DENGINE_OK) << r.message;
  EXPECT_FALSE(saw_replacement_early.load());
  EXPECT_EQ(value_seen.load(), 7);
}

// A read the core cannot confirm (no quorum answers) and a transfer to a
// node that is down end at their deadline, and the node forgets them then:
// it does not hold them until the core gives up on them.
TEST_F(NodeTest, TimedOutReadsAndTransfersAreForgotten) {
  ports_[1] = free_port();
  ports_[2] = free_port();
  for (raft::NodeId id : {1, 2}) {
    NodeOptions options = options_for(id);
    // Slow elections: the leader keeps its role for a while after its peer
    // stops, so only the deadline can end the requests below.
    options.election_ticks = 50;
    options.initial_voters = {1, 2};
    const raft::NodeId peer = id == 1 ? 2 : 1;
    options.peers.push_back({peer, address_of(peer), true});
    start(id, options);
  }
  const raft::NodeId lead = leader();
  const raft::NodeId follower = lead == 1 ? 2 : 1;
  stop(follower);
  Node& node = *nodes_.at(lead);

  const Reply read =
      node.read(sm::encode_read(sm::KvRead::get("k")),
                ReadConsistency::kLinearizable, milliseconds(100));
  ASSERT_EQ(read.status, DENGINE_ERR_TIMEOUT) << read.message;
  EXPECT_EQ(node.status().pending_reads, 0u);

  const Reply transfer = wait_for<Reply>([&](Node::Callback done) {
    node.transfer_leadership_async(follower, milliseconds(100),
                                   std::move(done));
  });
  ASSERT_EQ(transfer.status, DENGINE_ERR_TIMEOUT) << transfer.message;
  EXPECT_EQ(node.status().pending_transfers, 0u);
}

// stop() on one of the node's own threads would wait for itself: from a
// write's completion (apply thread), a leader-change callback (loop thread)
// and a snapshot's completion (storage thread) it is refused, and the node
// keeps serving.
TEST_F(NodeTest, StopFromTheNodesOwnThreadsIsRefused) {
  NodeOptions options = options_for(1);
  options.initial_voters = {1};
  start(1, options);
  Node& node = *nodes_.at(1);
  struct Attempt {
    int rc = DENGINE_OK;
    std::string error;
  };
  auto stop_inside = [&node](std::promise<Attempt>& done) {
    Attempt attempt;
    attempt.rc = node.stop(&attempt.error);
    done.set_value(attempt);
  };

  std::promise<Attempt> from_leader_callback;
  std::atomic<bool> called{false};
  node.set_leader_change_callback([&](uint64_t, uint64_t) {
    if (!called.exchange(true)) stop_inside(from_leader_callback);
  });
  ASSERT_EQ(leader(), 1u);

  std::promise<Attempt> from_write;
  node.propose_async("x", nullptr, kTimeout,
                     [&](Reply) { stop_inside(from_write); });

  std::promise<Attempt> from_snapshot;
  node.snapshot_async(kTimeout, [&](Reply) { stop_inside(from_snapshot); });

  for (auto* promise : {&from_leader_callback, &from_write, &from_snapshot}) {
    const Attempt attempt = promise->get_future().get();
    EXPECT_EQ(attempt.rc, DENGINE_ERR_INVALID_ARGUMENT);
    EXPECT_NE(attempt.error.find("would wait for itself"), std::string::npos)
        << attempt.error;
  }
  node.set_leader_change_callback(nullptr);
  put_at_leader("still", "serving");
  EXPECT_EQ(get(1, "still", ReadConsistency::kLinearizable), "serving");
  EXPECT_EQ(node.stop(), DENGINE_OK);
}

// Freeing a node from its own callback cannot wait either: it returns at
// once and the node stops on a thread of its own, after which the data
// directory opens again and holds what was written.
TEST_F(NodeTest, ClosingFromACallbackStopsTheNodeInTheBackground) {
  NodeOptions options = options_for(1);
  options.initial_voters = {1};
  // With a client server, which holds the Node and must stop before it goes.
  options.client_address = "127.0.0.1:0";
  start(1, options);
  put_at_leader("k", "v");
  Node* node = nodes_.at(1).release();
  nodes_.erase(1);
  std::promise<void> closed;
  node->propose_async("y", nullptr, kTimeout, [node, &closed](Reply) {
    delete node;
    closed.set_value();
  });
  closed.get_future().get();
  std::unique_ptr<Node> reopened;
  ASSERT_TRUE(eventually([&] {
    std::string error;
    return Node::start(options, &reopened, &error) == DENGINE_OK;
  }));
  nodes_[1] = std::move(reopened);
  ASSERT_EQ(leader(), 1u);
  EXPECT_EQ(get(1, "k", ReadConsistency::kLinearizable), "v");
}

}  // namespace
}  // namespace dengine::node
