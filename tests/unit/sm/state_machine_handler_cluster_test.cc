// The handler against a real committed stream: three Raft cores over
// MemoryStorage, driven by a small deterministic host loop (messages delivered
// in order, ticks only when the test asks), each replica feeding its committed
// entries and received snapshots into its own handler over its own RocksDB KV
// machine. Elections, KV puts, a leader change, and a snapshot install on a
// follower that lagged behind a compaction; every replica must end with the
// same state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/raft.h"
#include "raft/storage.h"
#include "sm/apply_results.h"
#include "sm/kv_command.h"
#include "sm/kv_machine.h"
#include "sm/session.h"
#include "sm/state_machine_handler.h"
#include "storage/snapshot_store.h"

namespace dengine::sm {
namespace {

namespace fs = std::filesystem;

struct Replica {
  raft::NodeId id = 0;
  raft::MemoryStorage storage;
  std::unique_ptr<raft::Raft> raft;
  dengine_state_machine machine{};
  std::unique_ptr<storage::SnapshotStore> snapshots;
  std::unique_ptr<StateMachineHandler> handler;
  int installs = 0;

  ~Replica() {
    if (handler) {
      EXPECT_EQ(handler->stop(), DENGINE_OK);
    }
    handler.reset();
    close_kv_machine(&machine);
  }
};

class Cluster {
 public:
  explicit Cluster(const fs::path& dir) {
    for (raft::NodeId id = 1; id <= 3; ++id) {
      auto r = std::make_unique<Replica>();
      r->id = id;
      const fs::path home = dir / ("node" + std::to_string(id));
      fs::create_directories(home);
      std::string error;
      EXPECT_EQ(open_kv_machine((home / "kv").string(), DENGINE_KV_ROCKSDB,
                                &r->machine, &error),
                DENGINE_OK)
          << error;
      EXPECT_TRUE(storage::SnapshotStore::open((home / "snapshots").string(), 2,
                                               &r->snapshots)
                      .is_ok());
      StateMachineHandlerOptions options;
      options.max_chunk_entries = 4;  // several chunks per Ready
      options.snapshot_policy = {0, 0};
      options.snapshots = r->snapshots.get();
      r->handler =
          std::make_unique<StateMachineHandler>(r->machine, std::move(options));
      EXPECT_EQ(r->handler->start(&error), DENGINE_OK) << error;

      raft::Config config;
      config.id = id;
      config.bootstrap_voters = {1, 2, 3};
      config.applied = r->handler->replay_from();
      config.seed = id;
      r->raft = raft::Raft::create(config, &r->storage, &error);
      EXPECT_NE(r->raft, nullptr) << error;
      replicas_[id] = std::move(r);
    }
  }

  Replica& at(raft::NodeId id) { return *replicas_.at(id); }
  void isolate(raft::NodeId id) { isolated_.insert(id); }
  void heal(raft::NodeId id) { isolated_.erase(id); }

  // Handles every Ready and delivers every message until nothing moves.
  void stabilize() {
    for (bool moved = true; moved;) {
      moved = false;
      for (auto& [id, r] : replicas_) {
        while (r->raft->has_ready()) {
          handle_ready(*r);
          moved = true;
        }
      }
      while (!network_.empty()) {
        raft::Message m = std::move(network_.front());
        network_.pop_front();
        replicas_.at(m.to)->raft->step(m);
        moved = true;
      }
    }
  }

  raft::Result propose(raft::NodeId id, const KvCommand& command,
                       std::vector<std::future<ProposalOutcome>>* outcomes) {
    raft::Result result =
        at(id).raft->propose(wrap_plain(encode_command(command)));
    if (result.ok()) {
      auto promise = std::make_shared<std::promise<ProposalOutcome>>();
      outcomes->push_back(promise->get_future());
      at(id).handler->wait_proposal(
          result.index, result.term,
          [promise](const ProposalOutcome& o) { promise->set_value(o); });
    }
    return result;
  }

 private:
  void send(std::vector<raft::Message> messages) {
    for (auto& m : messages) {
      if (isolated_.count(m.from) || isolated_.count(m.to)) continue;
      network_.push_back(std::move(m));
    }
  }

  // The snapshot travels as its files: the inline data names the sender's
  // snapshot directory and SHA-256, and the receiver copies the files into
  // its own store, checked against that SHA-256.
  void receive_snapshot(Replica& r, const raft::Snapshot& snapshot) {
    const size_t newline = snapshot.data.find('\n');
    ASSERT_NE(newline, std::string::npos);
    const std::string source = snapshot.data.substr(0, newline);
    const std::string sha256 = snapshot.data.substr(newline + 1);
    std::unique_ptr<storage::SnapshotWriter> writer;
    ASSERT_TRUE(r.snapshots->begin(snapshot.meta, &writer).is_ok());
    fs::copy(source, writer->data_dir(), fs::copy_options::recursive);
    storage::SnapshotInfo info;
    storage::Status s = writer->commit(sha256, &info);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    r.handler->install(info, [&r](int status, const std::string& message) {
      EXPECT_EQ(status, DENGINE_OK) << message;
      r.installs++;  // apply thread; read after the handler applied past it
    });
  }

  void handle_ready(Replica& r) {
    raft::Ready ready = r.raft->ready();
    send(std::move(ready.messages));
    if (ready.snapshot) {
      ASSERT_TRUE(r.storage.apply_snapshot(*ready.snapshot));
    }
    r.storage.append(ready.entries);
    if (ready.hard_state) r.storage.set_hard_state(*ready.hard_state);
    send(std::move(ready.messages_after_persist));
    if (ready.snapshot) receive_snapshot(r, *ready.snapshot);
    r.handler->apply(ready.committed_entries);
    r.raft->advance(ready);
  }

  std::map<raft::NodeId, std::unique_ptr<Replica>> replicas_;
  std::deque<raft::Message> network_;
  std::set<raft::NodeId> isolated_;
};

std::string scan_everything(Replica& r) {
  const std::string query = encode_read(KvRead::scan_prefix("", 10'000));
  dengine_read_result result;
  EXPECT_EQ(r.machine.read(r.machine.user,
                           reinterpret_cast<const uint8_t*>(query.data()),
                           query.size(), &result),
            DENGINE_OK);
  return std::string(result.data.begin(), result.data.end());
}

void await_applied(StateMachineHandler& h, raft::Index index) {
  ASSERT_EQ(h.wait_applied_until(index, std::chrono::steady_clock::now() +
                                            std::chrono::seconds(30)),
            DENGINE_OK);
}

TEST(StateMachineHandlerClusterTest, EveryReplicaEndsInTheSameState) {
  const fs::path dir = fs::temp_directory_path() /
                       ("handler-cluster-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    Cluster cluster(dir);
    uint64_t now_ms = 1'000;
    std::vector<std::future<ProposalOutcome>> outcomes;

    cluster.at(1).raft->campaign();
    cluster.stabilize();
    ASSERT_EQ(cluster.at(1).raft->role(), raft::Role::kLeader);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(cluster
                      .propose(1,
                               KvCommand::put("k" + std::to_string(i),
                                              "v" + std::to_string(i))
                                   .at(++now_ms),
                               &outcomes)
                      .ok());
    }
    cluster.stabilize();

    // Node 3 falls behind while the others go on.
    cluster.isolate(3);
    for (int i = 10; i < 20; ++i) {
      ASSERT_TRUE(cluster
                      .propose(1,
                               KvCommand::put("k" + std::to_string(i),
                                              "v" + std::to_string(i))
                                   .at(++now_ms),
                               &outcomes)
                      .ok());
    }
    cluster.stabilize();

    // Leadership moves to node 2, which writes on.
    ASSERT_TRUE(cluster.at(1).raft->transfer_leadership(2).ok());
    cluster.stabilize();
    ASSERT_EQ(cluster.at(2).raft->role(), raft::Role::kLeader);
    ASSERT_TRUE(
        cluster.propose(2, KvCommand::erase("k3").at(++now_ms), &outcomes)
            .ok());
    ASSERT_TRUE(
        cluster
            .propose(
                2, KvCommand::compare_and_swap("k4", "v4", "new4").at(++now_ms),
                &outcomes)
            .ok());
    ASSERT_TRUE(
        cluster.propose(2, KvCommand::put("k20", "v20").at(++now_ms), &outcomes)
            .ok());
    cluster.stabilize();

    // Node 2 snapshots and compacts its log past what node 3 holds.
    Replica& leader = cluster.at(2);
    std::promise<storage::SnapshotInfo> taken;
    leader.handler->request_snapshot([&](int status, const std::string& message,
                                         const storage::SnapshotInfo& info) {
      EXPECT_EQ(status, DENGINE_OK) << message;
      taken.set_value(info);
    });
    const storage::SnapshotInfo info = taken.get_future().get();
    ASSERT_GT(info.meta.index, 20u);
    EXPECT_EQ(info.meta.conf.voters, (std::vector<raft::NodeId>{1, 2, 3}));
    EXPECT_EQ(info.meta.term, leader.raft->term());
    ASSERT_TRUE(leader.storage.create_snapshot(
        info.meta.index, info.meta.conf, info.data_dir + "\n" + info.sha256));
    ASSERT_TRUE(
        cluster.propose(2, KvCommand::put("k21", "v21").at(++now_ms), &outcomes)
            .ok());
    cluster.stabilize();

    // Node 3 returns; the leader's next heartbeat finds it behind the
    // compacted log and sends the snapshot.
    cluster.heal(3);
    leader.raft->tick();
    cluster.stabilize();

    const raft::Index commit = leader.raft->status().hard_state.commit;
    for (raft::NodeId id = 1; id <= 3; ++id) {
      EXPECT_EQ(cluster.at(id).raft->status().hard_state.commit, commit);
      await_applied(*cluster.at(id).handler, commit);
    }
    EXPECT_EQ(cluster.at(3).installs, 1);
    EXPECT_EQ(cluster.at(1).installs, 0);

    // Every proposal reached its proposer with the machine's result.
    for (auto& outcome : outcomes) {
      ProposalOutcome o = outcome.get();
      ASSERT_EQ(o.status, DENGINE_OK) << o.message;
      KvResult result;
      ASSERT_TRUE(decode_result(o.data, &result).is_ok());
      EXPECT_EQ(result.code, KvResultCode::kOk);
    }

    const std::string state = scan_everything(cluster.at(1));
    KvReadAnswer answer;
    ASSERT_TRUE(
        decode_read_answer(KvReadType::kScanPrefix, state, &answer).is_ok());
    EXPECT_EQ(answer.entries.size(), 21u);  // k0..k21 without k3
    std::map<std::string, std::string> kv(answer.entries.begin(),
                                          answer.entries.end());
    EXPECT_EQ(kv.count("k3"), 0u);
    EXPECT_EQ(kv["k4"], "new4");
    EXPECT_EQ(kv["k21"], "v21");
    EXPECT_EQ(scan_everything(cluster.at(2)), state);
    EXPECT_EQ(scan_everything(cluster.at(3)), state);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dengine::sm
