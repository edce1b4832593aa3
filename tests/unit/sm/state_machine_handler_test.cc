#include "sm/state_machine_handler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "handler_test_support.h"
#include "storage/file_system.h"
#include "storage/hard_state_store.h"
#include "storage/raft_storage.h"
#include "storage/wal_log_store.h"

namespace dengine::sm {
namespace {

using namespace handler_test;

TEST_F(HandlerTest, AppliesInOrderInBoundedChunksOnItsOwnThread) {
  StateMachineHandlerOptions o;
  o.max_chunk_entries = 4;
  auto h = start(o);
  machine_.gate_armed = true;
  h->apply(entries(1, 1));
  machine_.wait_in_gate();  // the apply thread holds entry 1
  h->apply(entries(2, 11));
  machine_.open_gate();
  await_applied(*h, 11);
  EXPECT_EQ(machine_.chunks, (std::vector<std::vector<uint64_t>>{
                                 {1}, {2, 3, 4, 5}, {6, 7, 8, 9}, {10, 11}}));
  EXPECT_EQ(h->last_applied(), 11u);
  EXPECT_EQ(h->last_applied_term(), 1u);
}

TEST_F(HandlerTest, ChunksAreBoundedByBytes) {
  StateMachineHandlerOptions o;
  o.max_chunk_bytes = 10;
  auto h = start(o);
  machine_.gate_armed = true;
  h->apply(entries(1, 1));
  machine_.wait_in_gate();
  // With their 1-byte envelopes, 5 + 5 fit in 10 bytes, a third does not;
  // a 21-byte entry goes alone.
  h->apply({entry(2, 1, "aaaa"), entry(3, 1, "bbbb"), entry(4, 1, "cccc"),
            entry(5, 1, std::string(20, 'd')), entry(6, 1, "e")});
  machine_.open_gate();
  await_applied(*h, 6);
  EXPECT_EQ(machine_.chunks,
            (std::vector<std::vector<uint64_t>>{{1}, {2, 3}, {4}, {5}, {6}}));
}

TEST_F(HandlerTest, EntryKindsReachTheMachine) {
  auto h = start({});
  raft::Entry noop = entry(2);
  noop.type = raft::EntryType::kNoop;
  noop.data.clear();
  h->apply({bootstrap_entry({1, 2, 3}), noop, entry(3)});
  await_applied(*h, 3);
  EXPECT_EQ(machine_.kinds,
            (std::vector<uint32_t>{DENGINE_ENTRY_MEMBERSHIP, DENGINE_ENTRY_NOOP,
                                   DENGINE_ENTRY_NORMAL}));
}

TEST_F(HandlerTest, ResultsReachTheirProposalAndAWrongTermFails) {
  auto h = start({});
  std::promise<ProposalOutcome> p3, p4;
  h->wait_proposal(3, 1, [&](const ProposalOutcome& o) { p3.set_value(o); });
  // The proposal landed at 4 in term 1, but a new leader's entry took 4.
  h->wait_proposal(4, 1, [&](const ProposalOutcome& o) { p4.set_value(o); });
  h->apply(entries(1, 3, 1));
  h->apply({entry(4, 2)});
  ProposalOutcome o3 = p3.get_future().get();
  EXPECT_EQ(o3.status, DENGINE_OK);
  EXPECT_EQ(o3.result, 30);
  EXPECT_EQ(o3.data, "r3");
  ProposalOutcome o4 = p4.get_future().get();
  EXPECT_EQ(o4.status, DENGINE_ERR_NOT_LEADER);
  EXPECT_NE(o4.message.find("leadership changed"), std::string::npos);

  // Registered after its entry applied: the result is gone, said so.
  std::promise<ProposalOutcome> late;
  h->wait_proposal(2, 1, [&](const ProposalOutcome& o) { late.set_value(o); });
  EXPECT_EQ(late.get_future().get().status, DENGINE_ERR_TIMEOUT);
}

TEST_F(HandlerTest, ReadsWakeOnceTheirIndexApplies) {
  auto h = start({});
  machine_.gate_armed = true;
  h->apply(entries(1, 1));
  machine_.wait_in_gate();
  std::vector<raft::Index> woken_at;
  std::promise<void> both;
  int remaining = 2;
  auto read = [&](raft::Index index) {
    h->wait_applied(index, [&, index](int status) {
      EXPECT_EQ(status, DENGINE_OK);
      woken_at.push_back(index);
      // Called on the apply thread after last_applied reached the index.
      EXPECT_GE(h->last_applied(), index);
      if (--remaining == 0) both.set_value();
    });
  };
  read(5);
  read(2);
  // Nothing past 1 can have applied while the gate holds entry 1.
  EXPECT_EQ(h->wait_applied_until(5, std::chrono::steady_clock::now()),
            DENGINE_ERR_TIMEOUT);
  h->apply(entries(2, 5));
  machine_.open_gate();
  both.get_future().get();
  EXPECT_EQ(woken_at, (std::vector<raft::Index>{2, 5}));
  // Already applied: answered at once, on the caller's thread.
  int status = -100;
  h->wait_applied(3, [&](int s) { status = s; });
  EXPECT_EQ(status, DENGINE_OK);
}

// A DurableStorage holding entries 1..last, for checking that the compaction
// callback's meta purges the log correctly.
std::unique_ptr<storage::DurableStorage> open_log(
    const fs::path& dir, const std::vector<raft::Entry>& log_entries) {
  storage::WalOptions wal;
  wal.dir = (dir / "wal").string();
  wal.segment_bytes = 64 << 10;
  std::unique_ptr<storage::LogStore> log;
  EXPECT_TRUE(
      storage::open_wal_log_store(storage::posix_file_system(), wal, &log)
          .is_ok());
  std::unique_ptr<storage::HardStateStore> hard;
  EXPECT_TRUE(storage::open_file_hard_state_store(storage::posix_file_system(),
                                                  (dir / "hs").string(), &hard)
                  .is_ok());
  std::unique_ptr<storage::DurableStorage> out;
  EXPECT_TRUE(
      storage::DurableStorage::open(std::move(log), std::move(hard), {}, &out)
          .is_ok());
  raft::Ready ready;
  ready.entries = log_entries;
  ready.must_sync = true;
  EXPECT_TRUE(out->persist(ready).is_ok());
  return out;
}

TEST_F(HandlerTest, SnapshotsByPolicyAreVerifiedAndCompactTheLog) {
  std::vector<raft::Entry> batch = {bootstrap_entry({1, 2, 3})};
  for (raft::Entry& e : entries(2, 12, 2)) batch.push_back(e);
  auto log = open_log(dir_, batch);
  std::vector<storage::SnapshotInfo> taken;
  StateMachineHandlerOptions o;
  o.max_chunk_entries = 5;
  o.snapshot_policy.entries = 5;
  o.snapshot_policy.bytes = 0;
  o.snapshots = store_.get();
  o.on_snapshot_taken = [&](const storage::SnapshotInfo& info, double) {
    taken.push_back(info);
    storage::Status s = log->compact(info.meta);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  };
  auto h = start(o);
  h->apply(batch);
  await_applied(*h, 12);
  EXPECT_EQ(h->stop(), DENGINE_OK);  // joins: the callbacks have run

  ASSERT_EQ(taken.size(), 2u);
  raft::ConfState conf;
  conf.voters = {1, 2, 3};
  EXPECT_EQ(taken[0].meta, (raft::SnapshotMeta{5, 2, conf}));
  EXPECT_EQ(taken[1].meta, (raft::SnapshotMeta{10, 2, conf}));
  for (const auto& info : taken) {
    EXPECT_TRUE(store_->verify(info).is_ok());
  }
  EXPECT_EQ(log->first_index(), 11u);
  EXPECT_EQ(log->last_index(), 12u);
  EXPECT_EQ(log->snapshot().meta, taken[1].meta);
  EXPECT_EQ(machine_.flushes, 1);
  EXPECT_EQ(machine_.stops, 1);
}

TEST_F(HandlerTest, SnapshotOnDemandCoversEverythingQueuedBeforeIt) {
  StateMachineHandlerOptions o;
  o.snapshot_policy = {0, 0};
  o.snapshots = store_.get();
  int compactions = 0;
  o.on_snapshot_taken = [&](const storage::SnapshotInfo&, double) {
    compactions++;
  };
  auto h = start(o);
  h->apply({bootstrap_entry({7})});
  h->apply(entries(2, 4, 3));
  std::promise<std::pair<int, storage::SnapshotInfo>> done;
  h->request_snapshot([&](int status, const std::string& message,
                          const storage::SnapshotInfo& info) {
    EXPECT_EQ(status, DENGINE_OK) << message;
    done.set_value({status, info});
  });
  h->apply(entries(5, 6, 3));
  auto [status, info] = done.get_future().get();
  ASSERT_EQ(status, DENGINE_OK);
  raft::ConfState conf;
  conf.voters = {7};
  EXPECT_EQ(info.meta, (raft::SnapshotMeta{4, 3, conf}));
  EXPECT_TRUE(store_->verify(info).is_ok());
  std::ifstream state(fs::path(info.data_dir) / kSnapshotMachineDir / "state");
  uint64_t captured = 0;
  state >> captured;
  EXPECT_EQ(captured, 4u);
  EXPECT_EQ(h->stop(), DENGINE_OK);
  EXPECT_EQ(compactions, 1);
}

TEST_F(HandlerTest, InstallsAVerifiedSnapshotInOrderWithEntries) {
  StateMachineHandlerOptions o;
  o.snapshots = store_.get();
  o.snapshot_policy = {0, 0};
  auto h = start(o);
  // A snapshot at 8 received from the leader, as its machine wrote it.
  raft::ConfState conf;
  conf.voters = {1, 2};
  const storage::SnapshotInfo info = make_snapshot({8, 4, conf});
  std::promise<ProposalOutcome> covered;
  h->wait_proposal(6, 1,
                   [&](const ProposalOutcome& o) { covered.set_value(o); });
  h->apply(entries(1, 3));
  std::promise<int> installed;
  h->install(info, [&](int status, const std::string& message) {
    EXPECT_EQ(status, DENGINE_OK) << message;
    installed.set_value(status);
  });
  // Re-sent entries at or below 8 are skipped; 9 applies after the snapshot.
  h->apply(entries(7, 9, 4));
  await_applied(*h, 9);
  EXPECT_EQ(installed.get_future().get(), DENGINE_OK);
  EXPECT_EQ(covered.get_future().get().status, DENGINE_ERR_TIMEOUT);
  EXPECT_EQ(machine_.chunks,
            (std::vector<std::vector<uint64_t>>{{1, 2, 3}, {9}}));
  EXPECT_EQ(machine_.installs, 1);
  // The next snapshot records the installed membership.
  std::promise<storage::SnapshotInfo> next;
  h->request_snapshot([&](int status, const std::string& message,
                          const storage::SnapshotInfo& i) {
    EXPECT_EQ(status, DENGINE_OK) << message;
    next.set_value(i);
  });
  EXPECT_EQ(next.get_future().get().meta, (raft::SnapshotMeta{9, 4, conf}));
}

TEST_F(HandlerTest, CorruptedSnapshotIsRefusedAndTheMachineUntouched) {
  const storage::SnapshotInfo info = make_snapshot({8, 4, {}});
  {
    // Flip one byte of the data.
    std::fstream f(fs::path(info.data_dir) / kSnapshotMachineDir / "state",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.put('9');
  }
  std::promise<std::pair<int, std::string>> fatal;
  StateMachineHandlerOptions o;
  o.on_fatal = [&](int code, const std::string& message) {
    fatal.set_value({code, message});
  };
  auto h = start(o);
  h->apply(entries(1, 2));
  std::promise<int> read;
  h->wait_applied(9, [&](int status) { read.set_value(status); });
  std::promise<std::pair<int, std::string>> installed;
  h->install(info, [&](int status, const std::string& message) {
    installed.set_value({status, message});
  });
  auto [code, message] = installed.get_future().get();
  EXPECT_EQ(code, DENGINE_ERR_CORRUPTION);
  EXPECT_NE(message.find("SHA-256"), std::string::npos) << message;
  EXPECT_NE(message.find("index 8"), std::string::npos) << message;
  EXPECT_EQ(fatal.get_future().get().first, DENGINE_ERR_CORRUPTION);
  EXPECT_EQ(read.get_future().get(), DENGINE_ERR_CORRUPTION);
  EXPECT_EQ(machine_.installs, 0);
  EXPECT_EQ(machine_.last(), 2u);
  // Nothing applies after the refusal: the log would have a gap.
  h->apply(entries(9, 9));
  EXPECT_EQ(h->stop(), DENGINE_ERR_CORRUPTION);
  EXPECT_EQ(machine_.last(), 2u);
}

TEST_F(HandlerTest, RestartReplaysOnlyAfterTheMachinesLastApplied) {
  raft::ConfState conf;
  conf.voters = {1};
  {
    StateMachineHandlerOptions o;
    o.snapshots = store_.get();
    o.snapshot_policy = {0, 0};
    auto h = start(o);
    h->apply({bootstrap_entry({1})});
    h->apply(entries(2, 3));
    std::promise<int> snapped;
    h->request_snapshot([&](int status, const std::string& message,
                            const storage::SnapshotInfo&) {
      EXPECT_EQ(status, DENGINE_OK) << message;
      snapped.set_value(status);
    });
    h->apply(entries(4, 5));
    EXPECT_EQ(snapped.get_future().get(), DENGINE_OK);
    await_applied(*h, 5);
    EXPECT_EQ(h->stop(), DENGINE_OK);
  }
  // The snapshot is at 3; the machine durably holds 5.
  machine_.chunks.clear();
  StateMachineHandlerOptions o;
  o.snapshots = store_.get();
  o.snapshot_policy = {0, 0};
  auto h = start(o);
  EXPECT_EQ(h->last_applied(), 5u);
  EXPECT_EQ(h->replay_from(), 3u);
  EXPECT_EQ(h->last_applied_term(), 0u);  // unknown until 5 is re-delivered
  EXPECT_EQ(machine_.installs, 0);
  h->apply(entries(4, 7));
  await_applied(*h, 7);
  EXPECT_EQ(machine_.chunks, (std::vector<std::vector<uint64_t>>{{6, 7}}));
  std::promise<storage::SnapshotInfo> snap;
  h->request_snapshot([&](int status, const std::string& message,
                          const storage::SnapshotInfo& info) {
    EXPECT_EQ(status, DENGINE_OK) << message;
    snap.set_value(info);
  });
  EXPECT_EQ(snap.get_future().get().meta, (raft::SnapshotMeta{7, 1, conf}));
}

TEST_F(HandlerTest, RestartWithoutLastAppliedResetsAndInstallsTheSnapshot) {
  const storage::SnapshotInfo info = make_snapshot({4, 2, {}});
  machine_.applied = 9;  // but it cannot say so
  dengine_state_machine vtable = machine_.vtable();
  vtable.last_applied = nullptr;
  vtable.reset = [](void* u) {
    std::lock_guard lock(RecordingMachine::of(u)->mutex);
    RecordingMachine::of(u)->applied = 0;
    RecordingMachine::of(u)->resets++;
    return 0;
  };
  StateMachineHandlerOptions o;
  o.snapshots = store_.get();
  StateMachineHandler h(vtable, o);
  std::string error;
  ASSERT_EQ(h.start(&error), DENGINE_OK) << error;
  EXPECT_EQ(machine_.resets, 1);
  EXPECT_EQ(machine_.installs, 1);
  EXPECT_EQ(h.last_applied(), 4u);
  EXPECT_EQ(h.replay_from(), 4u);
  EXPECT_EQ(h.last_applied_term(), 2u);
  h.apply(entries(1, 6));  // re-delivered from the start: 1..4 are skipped
  await_applied(h, 6);
  EXPECT_EQ(machine_.chunks, (std::vector<std::vector<uint64_t>>{{5, 6}}));
}

TEST_F(HandlerTest, ACorruptedSnapshotFailsRecovery) {
  const storage::SnapshotInfo info = make_snapshot({4, 2, {}});
  std::ofstream(fs::path(info.data_dir) / kSnapshotMachineDir / "state") << 5;
  StateMachineHandlerOptions o;
  o.snapshots = store_.get();
  StateMachineHandler h(machine_.vtable(), o);
  std::string error;
  EXPECT_EQ(h.start(&error), DENGINE_ERR_CORRUPTION);
  EXPECT_NE(error.find("SHA-256"), std::string::npos) << error;
  EXPECT_EQ(machine_.installs, 0);
  EXPECT_EQ(h.stop(), DENGINE_ERR_CORRUPTION);
  EXPECT_EQ(machine_.stops, 1);
}

TEST_F(HandlerTest, AFailedApplyIsFatalAndFailsEveryWaiter) {
  machine_.fail_at = 4;
  std::promise<std::pair<int, std::string>> fatal;
  StateMachineHandlerOptions o;
  o.max_chunk_entries = 2;
  o.on_fatal = [&](int code, const std::string& message) {
    fatal.set_value({code, message});
  };
  auto h = start(o);
  std::promise<ProposalOutcome> ok, failed;
  std::promise<int> read;
  h->wait_proposal(2, 1, [&](const ProposalOutcome& o) { ok.set_value(o); });
  h->wait_proposal(5, 1,
                   [&](const ProposalOutcome& o) { failed.set_value(o); });
  h->wait_applied(6, [&](int status) { read.set_value(status); });
  h->apply(entries(1, 6));
  auto [code, message] = fatal.get_future().get();
  EXPECT_EQ(code, DENGINE_ERR_STATE_MACHINE);
  EXPECT_NE(message.find("[3, 4]"), std::string::npos) << message;
  EXPECT_EQ(ok.get_future().get().status, DENGINE_OK);
  EXPECT_EQ(failed.get_future().get().status, DENGINE_ERR_STATE_MACHINE);
  EXPECT_EQ(read.get_future().get(), DENGINE_ERR_STATE_MACHINE);
  EXPECT_EQ(
      h->wait_applied_until(6, std::chrono::steady_clock::time_point::max()),
      DENGINE_ERR_STATE_MACHINE);
  std::string why;
  EXPECT_EQ(h->fatal_status(&why), DENGINE_ERR_STATE_MACHINE);
  EXPECT_EQ(why, message);
  // Never skips: nothing after the failed chunk was applied.
  EXPECT_EQ(machine_.last(), 2u);
  EXPECT_EQ(h->stop(), DENGINE_ERR_STATE_MACHINE);
  EXPECT_EQ(machine_.last(), 2u);
  EXPECT_EQ(machine_.flushes, 0);  // nothing to make durable after a failure
}

TEST_F(HandlerTest, AGapInTheCommittedLogIsFatal) {
  std::promise<int> fatal;
  StateMachineHandlerOptions o;
  o.on_fatal = [&](int code, const std::string&) { fatal.set_value(code); };
  auto h = start(o);
  h->apply(entries(1, 2));
  await_applied(*h, 2);
  h->apply(entries(4, 4));
  EXPECT_EQ(fatal.get_future().get(), DENGINE_ERR_INTERNAL);
  EXPECT_EQ(machine_.last(), 2u);
}

TEST_F(HandlerTest, StopDrainsTheQueueThenFailsTheRest) {
  auto h = start({});
  machine_.gate_armed = true;
  h->apply(entries(1, 1));
  machine_.wait_in_gate();
  h->apply(entries(2, 50));
  std::promise<ProposalOutcome> queued, never;
  h->wait_proposal(50, 1,
                   [&](const ProposalOutcome& o) { queued.set_value(o); });
  h->wait_proposal(51, 1,
                   [&](const ProposalOutcome& o) { never.set_value(o); });
  std::promise<int> stopped;
  std::thread stopper([&] { stopped.set_value(h->stop()); });
  machine_.open_gate();
  EXPECT_EQ(stopped.get_future().get(), DENGINE_OK);
  stopper.join();
  EXPECT_EQ(machine_.last(), 50u);
  EXPECT_EQ(queued.get_future().get().status, DENGINE_OK);
  EXPECT_EQ(never.get_future().get().status, DENGINE_ERR_SHUTTING_DOWN);
  EXPECT_EQ(machine_.flushes, 1);
  EXPECT_EQ(machine_.stops, 1);
  EXPECT_EQ(h->stop(), DENGINE_OK);  // idempotent
  EXPECT_EQ(machine_.stops, 1);
  // After stop: new waiters fail at once, new work is dropped.
  int status = 0;
  h->wait_applied(51, [&](int s) { status = s; });
  EXPECT_EQ(status, DENGINE_ERR_SHUTTING_DOWN);
  h->request_snapshot([&](int s, const std::string&,
                          const storage::SnapshotInfo&) { status = s; });
  EXPECT_EQ(status, DENGINE_ERR_SHUTTING_DOWN);
}

TEST_F(HandlerTest, RejectsAMachineWithoutRequiredCallbacks) {
  dengine_state_machine vtable = machine_.vtable();
  vtable.generate_snapshot = nullptr;
  StateMachineHandler h(vtable, {});
  std::string error;
  EXPECT_EQ(h.start(&error), DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(error.find("required"), std::string::npos);
  EXPECT_EQ(h.stop(), DENGINE_OK);
  EXPECT_EQ(machine_.starts, 0);
  EXPECT_EQ(machine_.stops, 0);
}

}  // namespace
}  // namespace dengine::sm
