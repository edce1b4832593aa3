// DurableStorage: the Raft core restarts from it with the same log, term and
// commit, over each store combination.
#include "storage/raft_storage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include "raft/raft.h"
#include "scratch_dir.h"
#include "storage/file_system.h"
#include "storage/rocksdb_log_store.h"
#include "storage/wal_log_store.h"

namespace dengine::storage {
namespace {

using raft::Entry;
using raft::Index;
using raft::Message;
using raft::NodeId;
using raft::Term;

using OpenStores =
    std::function<Status(const std::string& dir, std::unique_ptr<LogStore>*,
                         std::unique_ptr<HardStateStore>*)>;

struct Backend {
  std::string name;
  OpenStores open;
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

std::vector<Backend> backends() {
  return {
      {"rocksdb",
       [](const std::string& dir, std::unique_ptr<LogStore>* log,
          std::unique_ptr<HardStateStore>* hs) {
         return open_rocksdb_stores({dir + "/db"}, log, hs);
       }},
      {"rocksdb_log_file_hard_state",
       [](const std::string& dir, std::unique_ptr<LogStore>* log,
          std::unique_ptr<HardStateStore>* hs) {
         Status s = open_rocksdb_log_store({dir + "/db"}, log);
         if (!s) return s;
         return open_file_hard_state_store(posix_file_system(), dir + "/hs",
                                           hs);
       }},
      {"wal_file_hard_state",
       [](const std::string& dir, std::unique_ptr<LogStore>* log,
          std::unique_ptr<HardStateStore>* hs) {
         WalOptions options;
         options.dir = dir + "/wal";
         Status s = open_wal_log_store(posix_file_system(), options, log);
         if (!s) return s;
         return open_file_hard_state_store(posix_file_system(), dir + "/hs",
                                           hs);
       }},
  };
}

// One host: its disk (the stores in `dir`, plus `snapshot`, standing in for
// the SnapshotStore) survives a crash; the core does not. The state machine
// is a map of applied commands, covered by the snapshot up to its index.
struct Host {
  NodeId id = 0;
  std::string dir;
  raft::SnapshotMeta snapshot;
  std::map<Index, std::string> state;
  Index applied = 0;
  std::unique_ptr<DurableStorage> storage;
  std::unique_ptr<raft::Raft> raft;

  bool up() const { return raft != nullptr; }
};

class Cluster {
 public:
  Cluster(const Backend& backend, const std::string& root, int size)
      : backend_(backend) {
    for (int i = 1; i <= size; ++i) {
      Host& host = hosts_[i];
      host.id = i;
      host.dir = root + "/n" + std::to_string(i);
      voters_.push_back(i);
    }
  }

  Host& host(NodeId id) { return hosts_.at(id); }

  // Opens the host's stores and restarts its core from them. The state
  // machine falls back to its snapshot, as after a crash.
  void start(NodeId id) {
    Host& h = host(id);
    std::unique_ptr<LogStore> log;
    std::unique_ptr<HardStateStore> hard_state;
    ASSERT_TRUE(backend_.open(h.dir, &log, &hard_state).is_ok());
    Status s = DurableStorage::open(std::move(log), std::move(hard_state),
                                    h.snapshot, &h.storage);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    h.state.erase(h.state.upper_bound(h.snapshot.index), h.state.end());
    h.applied = h.snapshot.index;
    raft::Config config;
    config.id = id;
    config.bootstrap_voters = voters_;
    config.applied = h.applied;
    config.seed = 7;
    std::string error;
    h.raft = raft::Raft::create(config, h.storage.get(), &error);
    ASSERT_NE(h.raft, nullptr) << error;
  }

  // Drops the core and the stores, losing nothing the stores made durable.
  void crash(NodeId id) {
    Host& h = host(id);
    h.raft.reset();
    h.storage.reset();
  }

  // Handles every Ready and delivers every message until all is quiet.
  void stabilize() {
    for (int round = 0; round < 1000; ++round) {
      for (auto& [id, h] : hosts_) {
        if (h.up()) handle_ready(h);
      }
      if (network_.empty()) return;
      std::deque<Message> in_flight;
      in_flight.swap(network_);
      for (const Message& m : in_flight) deliver(m);
    }
    FAIL() << "cluster did not settle";
  }

  void tick(int ticks) {
    for (int i = 0; i < ticks; ++i) {
      for (auto& [id, h] : hosts_) {
        if (h.up()) h.raft->tick();
      }
      stabilize();
    }
  }

  void propose(NodeId leader, const std::string& data) {
    const raft::Result result = host(leader).raft->propose(data);
    ASSERT_TRUE(result.ok()) << result.message;
    stabilize();
  }

  // A local snapshot at the applied index, then log compaction.
  void compact(NodeId id) {
    Host& h = host(id);
    raft::Term term = 0;
    ASSERT_EQ(h.storage->term(h.applied, &term), raft::StorageError::kOk);
    const raft::SnapshotMeta meta{h.applied, term, h.raft->conf()};
    h.snapshot = meta;  // durable in the snapshot store first
    ASSERT_TRUE(h.storage->compact(meta).is_ok());
  }

 private:
  void handle_ready(Host& h) {
    while (h.raft->has_ready()) {
      raft::Ready rd = h.raft->ready();
      for (const Message& m : rd.messages) network_.push_back(m);
      if (rd.snapshot && !rd.snapshot->empty()) {
        // Received from the leader: its files land in the snapshot store
        // before the log is reset.
        h.snapshot = rd.snapshot->meta;
      }
      const Status s = h.storage->persist(rd);
      ASSERT_TRUE(s.is_ok()) << s.to_string();
      for (const Message& m : rd.messages_after_persist) network_.push_back(m);
      if (rd.snapshot && !rd.snapshot->empty()) install_snapshot(h);
      for (const Entry& e : rd.committed_entries) {
        if (e.type == raft::EntryType::kNormal && !e.data.empty()) {
          h.state[e.index] = e.data;
        }
        h.applied = e.index;
      }
      h.raft->advance(rd);
      ASSERT_TRUE(h.storage->read_error().is_ok());
    }
  }

  // The snapshot's contents: the sender's state up to its index.
  void install_snapshot(Host& h) {
    h.state.clear();
    for (auto& [id, other] : hosts_) {
      if (other.snapshot.index >= h.snapshot.index && id != h.id) {
        for (const auto& [index, data] : other.state) {
          if (index <= h.snapshot.index) h.state[index] = data;
        }
        break;
      }
    }
    h.applied = h.snapshot.index;
  }

  void deliver(const Message& m) {
    Host& to = host(m.to);
    if (!to.up() || !host(m.from).up()) return;
    to.raft->step(m);
    if (m.type == raft::MessageType::kInstallSnapshot) {
      host(m.from).raft->report_snapshot(m.to, true);
    }
  }

  Backend backend_;
  std::map<NodeId, Host> hosts_;
  std::vector<NodeId> voters_;
  std::deque<Message> network_;
};

class DurableStorageRaftTest : public ::testing::TestWithParam<Backend> {
 protected:
  ScratchDir dir_;
};

TEST_P(DurableStorageRaftTest, SingleNodeRestartsWithSameLogTermAndState) {
  Cluster cluster(GetParam(), dir_.path(), 1);
  ASSERT_NO_FATAL_FAILURE(cluster.start(1));
  Host& h = cluster.host(1);
  h.raft->campaign();
  cluster.stabilize();
  ASSERT_EQ(h.raft->role(), raft::Role::kLeader);
  for (int i = 0; i < 10; ++i) {
    ASSERT_NO_FATAL_FAILURE(cluster.propose(1, "cmd-" + std::to_string(i)));
  }
  const Index last = h.raft->log().last_index();
  const Term term = h.raft->term();
  const Index commit = h.raft->status().hard_state.commit;
  EXPECT_EQ(commit, last);
  EXPECT_EQ(h.applied, last);
  const std::map<Index, std::string> state = h.state;

  cluster.crash(1);
  ASSERT_NO_FATAL_FAILURE(cluster.start(1));
  EXPECT_EQ(h.raft->log().last_index(), last);
  EXPECT_EQ(h.raft->term(), term);
  // The commit index is volatile: saved with term and vote, not per batch.
  EXPECT_LE(h.raft->status().hard_state.commit, commit);
  EXPECT_EQ(h.raft->status().hard_state.vote, NodeId{1});
  // Once it leads again the entries commit again and are handed out again,
  // rebuilding the same state.
  h.raft->campaign();
  cluster.stabilize();
  ASSERT_EQ(h.raft->role(), raft::Role::kLeader);
  EXPECT_GT(h.raft->term(), term);
  EXPECT_EQ(h.state, state);
  ASSERT_NO_FATAL_FAILURE(cluster.propose(1, "after-restart"));
  EXPECT_EQ(h.state.rbegin()->second, "after-restart");
}

TEST_P(DurableStorageRaftTest, ThreeNodesCatchUpBySnapshotAndRestart) {
  Cluster cluster(GetParam(), dir_.path(), 3);
  for (NodeId id : {1, 2, 3}) ASSERT_NO_FATAL_FAILURE(cluster.start(id));
  cluster.host(1).raft->campaign();
  cluster.stabilize();
  ASSERT_EQ(cluster.host(1).raft->role(), raft::Role::kLeader);
  for (int i = 0; i < 20; ++i) {
    ASSERT_NO_FATAL_FAILURE(cluster.propose(1, "a" + std::to_string(i)));
  }
  ASSERT_NO_FATAL_FAILURE(cluster.compact(1));

  cluster.crash(3);
  for (int i = 0; i < 20; ++i) {
    ASSERT_NO_FATAL_FAILURE(cluster.propose(1, "b" + std::to_string(i)));
  }
  ASSERT_NO_FATAL_FAILURE(cluster.compact(1));
  Host& leader = cluster.host(1);
  EXPECT_EQ(leader.storage->first_index(), leader.applied + 1);
  const Index snapshot_index = leader.snapshot.index;

  // Node 3 is behind the leader's log: it catches up through a snapshot.
  ASSERT_NO_FATAL_FAILURE(cluster.start(3));
  cluster.tick(3);
  Host& follower = cluster.host(3);
  EXPECT_EQ(follower.snapshot.index, snapshot_index);
  EXPECT_GE(follower.storage->first_index(), snapshot_index + 1);
  EXPECT_EQ(follower.raft->log().last_index(), leader.raft->log().last_index());
  EXPECT_EQ(follower.state, leader.state);

  // And it restarts from what it persisted, snapshot included.
  const Index last = follower.raft->log().last_index();
  cluster.crash(3);
  ASSERT_NO_FATAL_FAILURE(cluster.start(3));
  EXPECT_EQ(follower.raft->log().last_index(), last);
  EXPECT_EQ(follower.storage->snapshot().meta.index, snapshot_index);
  ASSERT_NO_FATAL_FAILURE(cluster.propose(1, "c"));
  cluster.tick(3);
  EXPECT_EQ(follower.state, leader.state);
  EXPECT_EQ(cluster.host(2).state, leader.state);
}

INSTANTIATE_TEST_SUITE_P(Backends, DurableStorageRaftTest,
                         ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

// --- Write order, over each store combination.
//
// RocksDB cannot run on the fault-injecting file system that the crash tests
// (tests/crash/raft_storage_crash_test.cc) use to cut the power at every
// point of a write, so the order is checked here on every backend by
// tracing the calls DurableStorage makes, then reopening without a close.

// The calls that change the stores, in order.
using Trace = std::vector<std::string>;

std::string describe(const raft::HardState& hs) {
  return std::to_string(hs.term) + "/" + std::to_string(hs.vote) + "/" +
         std::to_string(hs.commit);
}

class TracingLogStore final : public LogStore {
 public:
  TracingLogStore(std::unique_ptr<LogStore> log, Trace* trace)
      : log_(std::move(log)), trace_(trace) {}

  Index first_index() const override { return log_->first_index(); }
  Index last_index() const override { return log_->last_index(); }
  Index durable_index() const override { return log_->durable_index(); }
  Status term(Index index, Term* out) const override {
    return log_->term(index, out);
  }
  Status entries(Index lo, Index hi, uint64_t max_bytes,
                 std::vector<Entry>* out) const override {
    return log_->entries(lo, hi, max_bytes, out);
  }
  Status append(const std::vector<Entry>& entries) override {
    trace_->push_back("append " + std::to_string(entries.front().index) + ".." +
                      std::to_string(entries.back().index));
    return log_->append(entries);
  }
  Status truncate_suffix(Index index) override {
    trace_->push_back("truncate " + std::to_string(index));
    return log_->truncate_suffix(index);
  }
  Status purge_prefix(Index index) override {
    trace_->push_back("purge " + std::to_string(index));
    return log_->purge_prefix(index);
  }
  Status reset(Index index, Term term) override {
    trace_->push_back("reset " + std::to_string(index));
    return log_->reset(index, term);
  }
  Status sync() override {
    trace_->push_back("sync");
    return log_->sync();
  }
  Status close() override {
    trace_->push_back("close");
    return log_->close();
  }

 private:
  std::unique_ptr<LogStore> log_;
  Trace* trace_;
};

class TracingHardStateStore final : public HardStateStore {
 public:
  TracingHardStateStore(std::unique_ptr<HardStateStore> store, Trace* trace)
      : store_(std::move(store)), trace_(trace) {}

  Status load(raft::HardState* out) override { return store_->load(out); }
  Status save(const raft::HardState& state) override {
    trace_->push_back("save " + describe(state));
    return store_->save(state);
  }

 private:
  std::unique_ptr<HardStateStore> store_;
  Trace* trace_;
};

class DurableStorageOrderTest : public ::testing::TestWithParam<Backend> {
 protected:
  void open(std::unique_ptr<DurableStorage>* out) {
    std::unique_ptr<LogStore> log;
    std::unique_ptr<HardStateStore> hard_state;
    Status s = GetParam().open(dir_.path(), &log, &hard_state);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    s = DurableStorage::open(
        std::make_unique<TracingLogStore>(std::move(log), &trace_),
        std::make_unique<TracingHardStateStore>(std::move(hard_state), &trace_),
        {}, out);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }

  static raft::Ready ready_with(Index first, Index last, Term term,
                                raft::HardState hard_state) {
    raft::Ready rd;
    for (Index i = first; i <= last; ++i) {
      rd.entries.push_back(Entry{term, i, raft::EntryType::kNormal, "x"});
    }
    rd.hard_state = hard_state;
    rd.must_sync = true;
    return rd;
  }

  // Every entry at or below the commit index has the term `expected` gives.
  static void expect_committed_terms(
      const DurableStorage& storage,
      const std::function<Term(Index)>& expected) {
    const Index commit = storage.initial_state().hard_state.commit;
    for (Index i = storage.first_index(); i <= commit; ++i) {
      Term term = 0;
      ASSERT_EQ(storage.term(i, &term), raft::StorageError::kOk) << i;
      EXPECT_EQ(term, expected(i)) << "entry " << i;
    }
  }

  ScratchDir dir_;
  Trace trace_;
};

// A follower holding 1..10 of term 2 (commit 5) hears from the leader of
// term 3, which overwrites 6..8 and commits up to 8.
TEST_P(DurableStorageOrderTest,
       EntriesAreSyncedBeforeAHardStateNamingTheirCommit) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_NO_FATAL_FAILURE(open(&storage));
  ASSERT_TRUE(storage->persist(ready_with(1, 10, 2, {2, 1, 5})).is_ok());
  trace_.clear();
  ASSERT_TRUE(storage->persist(ready_with(6, 8, 3, {3, 2, 8})).is_ok());
  // One sync, before the save.
  EXPECT_EQ(trace_, (Trace{"append 6..8", "sync", "save 3/2/8"}));

  storage.reset();  // no close: nothing more is synced or saved
  ASSERT_NO_FATAL_FAILURE(open(&storage));
  EXPECT_EQ(storage->initial_state().hard_state, (raft::HardState{3, 2, 8}));
  EXPECT_EQ(storage->last_index(), Index{8});
  ASSERT_NO_FATAL_FAILURE(expect_committed_terms(
      *storage, [](Index i) { return i <= 5 ? Term{2} : Term{3}; }));
}

TEST_P(DurableStorageOrderTest, ReceivedSnapshotIsSyncedBeforeTheHardState) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_NO_FATAL_FAILURE(open(&storage));
  ASSERT_TRUE(storage->persist(ready_with(1, 10, 2, {2, 1, 5})).is_ok());
  trace_.clear();
  raft::Ready rd;
  rd.snapshot = raft::Snapshot{{50, 3, {{1, 2, 3}, {}}}, ""};
  rd.hard_state = raft::HardState{3, 2, 50};
  rd.must_sync = true;
  ASSERT_TRUE(storage->persist(rd).is_ok());
  EXPECT_EQ(trace_, (Trace{"reset 50", "sync", "save 3/2/50"}));
}

TEST_P(DurableStorageOrderTest, VoteAloneIsSavedWithoutSyncingFirst) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_NO_FATAL_FAILURE(open(&storage));
  ASSERT_TRUE(storage->persist(ready_with(1, 10, 2, {2, 1, 5})).is_ok());
  trace_.clear();
  raft::Ready rd;
  rd.hard_state = raft::HardState{3, 3, 5};
  rd.must_sync = true;
  ASSERT_TRUE(storage->persist(rd).is_ok());
  // The log was already durable, so nothing waits for the save; the sync the
  // Ready asks for finds nothing to write.
  EXPECT_EQ(trace_, (Trace{"save 3/3/5", "sync"}));
}

TEST_P(DurableStorageOrderTest, CloseSyncsTheLogBeforeSavingTheCommit) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_NO_FATAL_FAILURE(open(&storage));
  ASSERT_TRUE(storage->persist(ready_with(1, 10, 2, {2, 1, 5})).is_ok());
  raft::Ready rd;
  rd.hard_state = raft::HardState{2, 1, 10};  // commit alone: kept in memory
  ASSERT_TRUE(storage->persist(rd).is_ok());
  trace_.clear();
  ASSERT_TRUE(storage->close().is_ok());
  EXPECT_EQ(trace_, (Trace{"sync", "save 2/1/10", "close"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, DurableStorageOrderTest,
                         ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

// --- DurableStorage alone, over RocksDB.

class DurableStorageTest : public ::testing::Test {
 protected:
  Status open(const raft::SnapshotMeta& snapshot,
              std::unique_ptr<DurableStorage>* out) {
    std::unique_ptr<LogStore> log;
    std::unique_ptr<HardStateStore> hard_state;
    Status s = open_rocksdb_stores({dir_.path() + "/db"}, &log, &hard_state);
    if (!s) return s;
    return DurableStorage::open(std::move(log), std::move(hard_state), snapshot,
                                out);
  }

  static std::vector<Entry> entries(Index first, Index last, Term term) {
    std::vector<Entry> out;
    for (Index i = first; i <= last; ++i) {
      out.push_back(Entry{term, i, raft::EntryType::kNormal, "x"});
    }
    return out;
  }

  static raft::Ready ready_with(std::vector<Entry> entries,
                                raft::HardState hard_state) {
    raft::Ready rd;
    rd.entries = std::move(entries);
    rd.hard_state = hard_state;
    rd.must_sync = true;
    return rd;
  }

  ScratchDir dir_;
};

TEST_F(DurableStorageTest, PersistThenReadBack) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 5, 2), {2, 1, 3})).is_ok());
  // A conflicting suffix replaces the held one.
  ASSERT_TRUE(
      storage->persist(ready_with(entries(4, 4, 3), {3, 0, 3})).is_ok());
  EXPECT_EQ(storage->first_index(), Index{1});
  EXPECT_EQ(storage->last_index(), Index{4});
  Term term = 0;
  EXPECT_EQ(storage->term(4, &term), raft::StorageError::kOk);
  EXPECT_EQ(term, Term{3});
  EXPECT_EQ(storage->term(5, &term), raft::StorageError::kUnavailable);
  EXPECT_EQ(storage->log_store()->durable_index(), Index{4});

  storage.reset();
  ASSERT_TRUE(open({}, &storage).is_ok());
  EXPECT_EQ(storage->initial_state().hard_state, (raft::HardState{3, 0, 3}));
  EXPECT_EQ(storage->last_index(), Index{4});
}

TEST_F(DurableStorageTest, ACommitIndexAloneIsKeptInMemory) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 5, 2), {2, 1, 3})).is_ok());
  // The node's loop takes a Ready that only moves the commit index this way.
  storage->note_volatile({2, 1, 5});
  EXPECT_EQ(storage->initial_state().hard_state, (raft::HardState{2, 1, 5}));
  // Not saved by itself (Raft keeps it volatile); close() saves it.
  ASSERT_TRUE(storage->close().is_ok());
  storage.reset();
  ASSERT_TRUE(open({}, &storage).is_ok());
  EXPECT_EQ(storage->initial_state().hard_state, (raft::HardState{2, 1, 5}));
}

TEST_F(DurableStorageTest, SnapshotInReadyResetsLog) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 5, 1), {1, 0, 2})).is_ok());
  raft::Ready rd;
  rd.snapshot = raft::Snapshot{{50, 4, {{1, 2, 3}, {4}}}, ""};
  rd.hard_state = raft::HardState{4, 0, 50};
  rd.must_sync = true;
  ASSERT_TRUE(storage->persist(rd).is_ok());
  EXPECT_EQ(storage->first_index(), Index{51});
  EXPECT_EQ(storage->last_index(), Index{50});
  Term term = 0;
  EXPECT_EQ(storage->term(50, &term), raft::StorageError::kOk);
  EXPECT_EQ(term, Term{4});
  EXPECT_EQ(storage->term(5, &term), raft::StorageError::kCompacted);
  EXPECT_EQ(storage->snapshot().meta, rd.snapshot->meta);
  EXPECT_EQ(storage->initial_state().conf, rd.snapshot->meta.conf);
  // An older snapshot is refused.
  raft::Ready older;
  older.snapshot = raft::Snapshot{{40, 4, {{1}, {}}}, ""};
  EXPECT_EQ(storage->persist(older).code(), StatusCode::kInvalidArgument);
}

TEST_F(DurableStorageTest, CompactPurgesAndRemembersSnapshot) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 10, 2), {2, 1, 10})).is_ok());
  const raft::SnapshotMeta meta{6, 2, {{1}, {}}};
  ASSERT_TRUE(storage->compact(meta).is_ok());
  EXPECT_EQ(storage->first_index(), Index{7});
  EXPECT_EQ(storage->snapshot().meta, meta);
  EXPECT_EQ(storage->compact(meta).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(storage->compact({8, 9, {}}).code(),
            StatusCode::kInvalidArgument);  // wrong term
  std::vector<Entry> out;
  EXPECT_EQ(storage->entries(6, 8, 100, &out), raft::StorageError::kCompacted);
  EXPECT_EQ(storage->entries(7, 11, 100, &out), raft::StorageError::kOk);
  EXPECT_EQ(out.size(), size_t{4});
}

TEST_F(DurableStorageTest, OpenFinishesAnInterruptedCompaction) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 10, 2), {2, 1, 10})).is_ok());
  storage.reset();
  // The snapshot at 6 was stored, but the crash came before the purge.
  ASSERT_TRUE(open({6, 2, {{1}, {}}}, &storage).is_ok());
  EXPECT_EQ(storage->first_index(), Index{7});
  EXPECT_EQ(storage->last_index(), Index{10});
}

TEST_F(DurableStorageTest, OpenFinishesAnInterruptedSnapshotInstall) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 10, 2), {3, 1, 8})).is_ok());
  storage.reset();
  // A snapshot past the log, and one that disagrees with it: both reset.
  ASSERT_TRUE(open({20, 3, {{1}, {}}}, &storage).is_ok());
  EXPECT_EQ(storage->first_index(), Index{21});
  EXPECT_EQ(storage->last_index(), Index{20});
  storage.reset();
  ASSERT_TRUE(open({20, 3, {{1}, {}}}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(21, 30, 3), {3, 1, 25})).is_ok());
  storage.reset();
  ASSERT_TRUE(open({25, 4, {{1}, {}}}, &storage).is_ok());
  EXPECT_EQ(storage->first_index(), Index{26});
  EXPECT_EQ(storage->last_index(), Index{25});
}

TEST_F(DurableStorageTest, OpenRefusesALogPurgedPastTheSnapshot) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 10, 2), {2, 1, 10})).is_ok());
  ASSERT_TRUE(storage->compact({6, 2, {{1}, {}}}).is_ok());
  storage.reset();
  const Status s = open({3, 2, {{1}, {}}}, &storage);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("purged up to index 6"), std::string::npos)
      << s.message();
  // Same index, another term: the log and the snapshot disagree.
  EXPECT_EQ(open({6, 5, {{1}, {}}}, &storage).code(), StatusCode::kCorruption);
}

TEST_F(DurableStorageTest, OpenLowersACommitPastTheLog) {
  {
    // An earlier release saved the hard state before syncing the log: a
    // power loss could leave a commit index past the log's end.
    std::unique_ptr<LogStore> log;
    std::unique_ptr<HardStateStore> hard_state;
    ASSERT_TRUE(
        open_rocksdb_stores({dir_.path() + "/db"}, &log, &hard_state).is_ok());
    ASSERT_TRUE(log->append(entries(1, 5, 2)).is_ok());
    ASSERT_TRUE(hard_state->save({2, 1, 9}).is_ok());
  }
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  EXPECT_EQ(storage->initial_state().hard_state, (raft::HardState{2, 1, 5}));
}

TEST_F(DurableStorageTest, ReadFailureIsKeptForTheNode) {
  std::unique_ptr<DurableStorage> storage;
  ASSERT_TRUE(open({}, &storage).is_ok());
  ASSERT_TRUE(
      storage->persist(ready_with(entries(1, 5, 2), {2, 1, 5})).is_ok());
  EXPECT_TRUE(storage->read_error().is_ok());
  ASSERT_TRUE(storage->close().is_ok());
  Term term = 0;
  EXPECT_EQ(storage->term(3, &term), raft::StorageError::kUnavailable);
  EXPECT_EQ(storage->read_error().code(), StatusCode::kClosed);
}

}  // namespace
}  // namespace dengine::storage
