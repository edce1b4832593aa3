// A snapshot a node receives from a leader reaches its snapshot store only
// once its Raft core installs it. Peer 1 here is no real leader: a transport
// and a snapshot transfer sending node 2 InstallSnapshot messages its core
// must refuse. A refused snapshot must never become the store's latest: a
// restart recovers from the latest (the log is reset to it, the machine
// installs it), and a leader streams its latest to followers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../unit/storage/scratch_dir.h"
#include "net/snapshot_transfer.h"
#include "net/transport.h"
#include "node/kv.h"
#include "node/node.h"
#include "storage/snapshot_store.h"

namespace dengine::node {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kTimeout{5000};
constexpr auto kDeadline = std::chrono::seconds(20);
constexpr raft::NodeId kLeader = 1;
constexpr raft::NodeId kNode = 2;

// Holds a loopback port below Linux's ephemeral range (32768 and up) for the
// whole test: bound with SO_REUSEADDR but never listening, so a transport may
// listen on it (again after a restart) while no one else gets it.
class PortReservation {
 public:
  PortReservation() {
    static std::mt19937 random(std::random_device{}());
    for (int attempt = 0; attempt < 1000 && port_ == 0; ++attempt) {
      const auto port = static_cast<uint16_t>(10000 + random() % 20000);
      fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
      const int on = 1;
      ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(port);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
        port_ = port;
      } else {
        ::close(fd_);
      }
    }
    EXPECT_NE(port_, 0) << "no free port";
  }
  ~PortReservation() {
    if (port_ != 0) ::close(fd_);
  }
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Polls `condition` every 10 ms until kDeadline.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return condition();
}

// Peer 1: streams made-up snapshots to the node and records its answers.
class FakeLeader {
 public:
  FakeLeader(uint16_t port, uint16_t node_port, const std::string& dir) {
    EXPECT_TRUE(storage::SnapshotStore::open(dir, 1, &store_).is_ok());
    net::TransportConfig config;
    config.node_id = kLeader;
    config.cluster_id = NodeOptions{}.cluster_id;
    config.listen_port = port;
    config.peers = {{kNode, "127.0.0.1", node_port}};
    transport_ = std::make_unique<net::Transport>(
        config,
        [this](raft::Message m) {
          std::lock_guard lock(mu_);
          messages_.push_back(std::move(m));
          cv_.notify_all();
        },
        nullptr);
    transfer_ = std::make_unique<net::SnapshotTransfer>(
        net::SnapshotTransferConfig{}, transport_.get(), store_.get(),
        [this](raft::NodeId, bool ok) {
          std::lock_guard lock(mu_);
          sent_.push_back(ok);
          cv_.notify_all();
        },
        nullptr);
    EXPECT_EQ(transport_->start(), "");
  }
  ~FakeLeader() { transport_->stop(); }

  // Streams a snapshot at `meta`, holding files no machine wrote, in an
  // InstallSnapshot of `term`; true once the node received all of it.
  bool send_snapshot(const raft::SnapshotMeta& meta, raft::Term term) {
    std::unique_ptr<storage::SnapshotWriter> writer;
    EXPECT_TRUE(store_->begin(meta, &writer).is_ok());
    fs::create_directories(writer->data_dir() + "/machine");
    std::ofstream(writer->data_dir() + "/machine/state") << "not the state";
    storage::SnapshotInfo info;
    EXPECT_TRUE(writer->commit("", &info).is_ok());
    raft::Message install;
    install.type = raft::MessageType::kInstallSnapshot;
    install.from = kLeader;
    install.to = kNode;
    install.term = term;
    install.snapshot = raft::Snapshot{meta, ""};
    EXPECT_TRUE(transfer_->send(kNode, info, install));
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return !sent_.empty(); }) &&
           sent_.back();
  }

  // The node's first AppendResponse: its answer to an InstallSnapshot.
  std::optional<raft::Message> append_response() {
    std::unique_lock lock(mu_);
    std::optional<raft::Message> found;
    cv_.wait_for(lock, kDeadline, [&] {
      for (const raft::Message& m : messages_) {
        if (m.type == raft::MessageType::kAppendResponse) found = m;
      }
      return found.has_value();
    });
    return found;
  }

 private:
  std::unique_ptr<storage::SnapshotStore> store_;
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<net::SnapshotTransfer> transfer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> sent_;
  std::vector<raft::Message> messages_;
};

class ReceivedSnapshotTest : public ::testing::Test {
 protected:
  // Node 2, the only voter of its cluster, once it leads. It knows peer 1's
  // address, so it takes peer 1's connections.
  void start_node() {
    NodeOptions options;
    options.id = kNode;
    options.data_dir = node_dir();
    options.listen_address = "127.0.0.1:" + std::to_string(node_port_.port());
    options.peers = {
        {kLeader, "127.0.0.1:" + std::to_string(leader_port_.port()), false}};
    options.initial_voters = {kNode};
    options.tick_interval = milliseconds(20);
    std::string error;
    ASSERT_EQ(Node::start(std::move(options), &node_, &error), DENGINE_OK)
        << error;
    ASSERT_TRUE(eventually(
        [&] { return node_->status().role == raft::Role::kLeader; }));
  }

  // Node 2 leading with "key" = "value" applied.
  void start_node_with_a_key() {
    ASSERT_NO_FATAL_FAILURE(start_node());
    const KvWriteReply put =
        kv_write(*node_, sm::KvCommand::put("key", "value"), nullptr, kTimeout);
    ASSERT_EQ(put.reply.status, DENGINE_OK) << put.reply.message;
  }

  std::string node_dir() const { return dir_.path() + "/node"; }
  // What the node's snapshot store holds on disk.
  std::vector<std::string> stored_snapshots() const {
    std::vector<std::string> names;
    for (const auto& entry :
         fs::directory_iterator(node_dir() + "/snapshots")) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  // After a restart the node recovers from its own log, not from the
  // refused snapshot.
  void expect_restart_from_own_log() {
    ASSERT_NO_FATAL_FAILURE(start_node());
    const NodeStatus status = node_->status();
    EXPECT_EQ(status.snapshot_index, 0u);
    EXPECT_EQ(status.fatal_status, DENGINE_OK) << status.fatal_message;
    const KvReadReply read = kv_read(*node_, sm::KvRead::get("key"),
                                     ReadConsistency::kLinearizable, kTimeout);
    ASSERT_EQ(read.reply.status, DENGINE_OK) << read.reply.message;
    ASSERT_EQ(read.answer.values.size(), 1u);
    EXPECT_EQ(read.answer.values[0], "value");
    EXPECT_EQ(node_->stop(), DENGINE_OK);
  }

  storage::ScratchDir dir_;
  PortReservation node_port_;
  PortReservation leader_port_;
  std::unique_ptr<Node> node_;
};

TEST_F(ReceivedSnapshotTest, OneAtOrBelowTheCommitIndexNeverReachesTheStore) {
  ASSERT_NO_FATAL_FAILURE(start_node_with_a_key());
  const NodeStatus status = node_->status();
  ASSERT_GE(status.commit_index, 3u);  // bootstrap, no-op, the put
  FakeLeader leader(leader_port_.port(), node_port_.port(),
                    dir_.path() + "/leader");
  // A newer term than the node's, so the core looks at the snapshot, and
  // refuses it: everything up to the commit index is already in its log.
  const raft::SnapshotMeta meta{
      status.commit_index, status.term, {{kNode}, {}}};
  ASSERT_TRUE(leader.send_snapshot(meta, status.term + 5));
  const std::optional<raft::Message> answer = leader.append_response();
  ASSERT_TRUE(answer.has_value());
  EXPECT_FALSE(answer->reject);
  EXPECT_GE(answer->index, status.commit_index);

  EXPECT_EQ(node_->stop(), DENGINE_OK);
  EXPECT_TRUE(stored_snapshots().empty());
  expect_restart_from_own_log();
}

TEST_F(ReceivedSnapshotTest, OneOfAStaleTermNeverReachesTheStore) {
  ASSERT_NO_FATAL_FAILURE(start_node_with_a_key());
  const NodeStatus status = node_->status();
  ASSERT_GE(status.term, 2u);  // bootstrapped in term 1, then elected
  FakeLeader leader(leader_port_.port(), node_port_.port(),
                    dir_.path() + "/leader");
  // Far past the node's log, but from a leader of an older term: the core
  // ignores the message.
  const raft::SnapshotMeta meta{
      status.commit_index + 100, status.term - 1, {{kNode}, {}}};
  ASSERT_TRUE(leader.send_snapshot(meta, status.term - 1));

  // The loop steps the message before it stops: the transfer hands it over
  // before acknowledging the snapshot.
  EXPECT_EQ(node_->stop(), DENGINE_OK);
  EXPECT_TRUE(stored_snapshots().empty());
  expect_restart_from_own_log();
}

}  // namespace
}  // namespace dengine::node
