// Exactly-once writes through the state-machine handler: envelopes are
// stripped, sessions are opened by register entries, a retried session seq
// applies once and answers with its first result, a session the table does
// not hold is refused, and the table survives snapshots and restarts.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "handler_test_support.h"
#include "sm/session.h"
#include "sm/state_machine_handler.h"

namespace dengine::sm {
namespace {

using namespace handler_test;

// A register entry: it opens the session of client `index`.
raft::Entry register_entry(raft::Index index, raft::Term term = 1) {
  raft::Entry e = entry(index, term);
  e.data = wrap_register();
  return e;
}

class HandlerSessionTest : public HandlerTest {
 protected:
  std::future<ProposalOutcome> await_proposal(StateMachineHandler& h,
                                              raft::Index index,
                                              raft::Term term = 1) {
    auto promise = std::make_shared<std::promise<ProposalOutcome>>();
    h.wait_proposal(index, term, [promise](const ProposalOutcome& o) {
      promise->set_value(o);
    });
    return promise->get_future();
  }

  StateMachineHandlerOptions with_snapshots() {
    StateMachineHandlerOptions o;
    o.snapshots = store_.get();
    o.snapshot_policy = {0, 0};
    return o;
  }

  static storage::SnapshotInfo snapshot(StateMachineHandler& h) {
    std::promise<storage::SnapshotInfo> taken;
    h.request_snapshot([&](int status, const std::string& message,
                           const storage::SnapshotInfo& info) {
      EXPECT_EQ(status, DENGINE_OK) << message;
      taken.set_value(info);
    });
    return taken.get_future().get();
  }

  static std::string sessions_file(const storage::SnapshotInfo& info) {
    std::ifstream in(fs::path(info.data_dir) / kSnapshotSessionsFile,
                     std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(HandlerSessionTest, TheMachineSeesOnlyThePayload) {
  auto h = start({});
  h->apply({entry(1, 1, "plain"), register_entry(2),
            session_entry(3, 1, SessionHeader{2, 1, 0}, "session")});
  await_applied(*h, 3);
  EXPECT_EQ(machine_.payloads,
            (std::vector<std::string>{"plain", "", "session"}));
  EXPECT_EQ(machine_.kinds,
            (std::vector<uint32_t>{DENGINE_ENTRY_NORMAL, DENGINE_ENTRY_NOOP,
                                   DENGINE_ENTRY_NORMAL}));
}

TEST_F(HandlerSessionTest, ARegistrationIsANoopWhoseIndexIsTheClientId) {
  auto h = start({});
  auto registered = await_proposal(*h, 2);
  auto write = await_proposal(*h, 3);
  auto unregistered = await_proposal(*h, 4);
  h->apply({entry(1), register_entry(2),
            session_entry(3, 1, SessionHeader{2, 1, 0}, "a"),
            session_entry(4, 1, SessionHeader{3, 1, 0}, "b")});
  await_applied(*h, 4);

  // The proposer is answered DENGINE_OK once it applied, without a result:
  // the node's reply carries the entry's index, 2, which is the id.
  ProposalOutcome o2 = registered.get();
  EXPECT_EQ(o2.status, DENGINE_OK) << o2.message;
  EXPECT_FALSE(o2.duplicate);
  EXPECT_EQ(o2.result, 0);
  EXPECT_TRUE(o2.data.empty());
  ProposalOutcome o3 = write.get();
  EXPECT_EQ(o3.status, DENGINE_OK) << o3.message;
  EXPECT_EQ(o3.data, "r3");
  // Id 3 is the index of a session write, not of a registration.
  ProposalOutcome o4 = unregistered.get();
  EXPECT_EQ(o4.status, DENGINE_ERR_SESSION_EXPIRED);
  EXPECT_NE(o4.message.find("session 3 unknown"), std::string::npos)
      << o4.message;
  // The machine sees the registration (and the refusal) as a no-op without
  // data, so it still sees every index.
  EXPECT_EQ(machine_.chunks,
            (std::vector<std::vector<uint64_t>>{{1, 2, 3, 4}}));
  EXPECT_EQ(machine_.kinds,
            (std::vector<uint32_t>{DENGINE_ENTRY_NORMAL, DENGINE_ENTRY_NOOP,
                                   DENGINE_ENTRY_NORMAL, DENGINE_ENTRY_NOOP}));
  EXPECT_EQ(machine_.payloads, (std::vector<std::string>{"x", "", "a", ""}));
}

TEST_F(HandlerSessionTest, ARetriedSeqAppliesOnceAndGetsTheFirstResult) {
  auto h = start({});
  const SessionHeader first{1, 1, 0};
  auto applied = await_proposal(*h, 2);
  auto retried = await_proposal(*h, 4);
  auto in_chunk = await_proposal(*h, 6);
  h->apply({register_entry(1), session_entry(2, 1, first, "a"), entry(3)});
  await_applied(*h, 3);
  // The retry comes in a later chunk; another one in the same chunk as the
  // seq it repeats.
  h->apply({session_entry(4, 1, first, "a")});
  await_applied(*h, 4);
  h->apply({session_entry(5, 1, SessionHeader{1, 2, 1}, "b"),
            session_entry(6, 1, SessionHeader{1, 2, 1}, "b")});
  await_applied(*h, 6);

  ProposalOutcome o1 = applied.get();
  EXPECT_EQ(o1.status, DENGINE_OK);
  EXPECT_FALSE(o1.duplicate);
  EXPECT_EQ(o1.result, 20);
  EXPECT_EQ(o1.data, "r2");
  ProposalOutcome o3 = retried.get();
  EXPECT_EQ(o3.status, DENGINE_OK);
  EXPECT_TRUE(o3.duplicate);
  EXPECT_TRUE(o3.result_known);
  EXPECT_EQ(o3.result, 20);
  EXPECT_EQ(o3.data, "r2");
  ProposalOutcome o5 = in_chunk.get();
  EXPECT_EQ(o5.status, DENGINE_OK);
  EXPECT_TRUE(o5.duplicate);
  EXPECT_TRUE(o5.result_known);
  EXPECT_EQ(o5.result, 50);
  EXPECT_EQ(o5.data, "r5");

  EXPECT_EQ(machine_.chunks,
            (std::vector<std::vector<uint64_t>>{{1, 2, 3}, {4}, {5, 6}}));
  // Duplicates reach the machine as no-ops without data: no index gaps.
  EXPECT_EQ(machine_.kinds,
            (std::vector<uint32_t>{DENGINE_ENTRY_NOOP, DENGINE_ENTRY_NORMAL,
                                   DENGINE_ENTRY_NORMAL, DENGINE_ENTRY_NOOP,
                                   DENGINE_ENTRY_NORMAL, DENGINE_ENTRY_NOOP}));
  EXPECT_EQ(machine_.payloads,
            (std::vector<std::string>{"", "a", "x", "", "b", ""}));
}

TEST_F(HandlerSessionTest, RefusedEntriesAreNoopsAndTheirProposersTold) {
  auto h = start({});
  raft::Entry garbage = entry(3);
  garbage.data = "\x07whatever";
  auto bad_envelope = await_proposal(*h, 3);
  auto acknowledged = await_proposal(*h, 5);
  auto expired = await_proposal(*h, 6);
  h->apply({register_entry(1), session_entry(2, 1, SessionHeader{1, 1, 0}, "a"),
            garbage, session_entry(4, 1, SessionHeader{1, 2, 1}, "b"),
            session_entry(5, 1, SessionHeader{1, 1, 0}, "a"),
            session_entry(6, 1, SessionHeader{6, 3, 2}, "c"), entry(7)});
  await_applied(*h, 7);

  ProposalOutcome o3 = bad_envelope.get();
  EXPECT_EQ(o3.status, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(o3.message.find("envelope"), std::string::npos) << o3.message;
  ProposalOutcome o5 = acknowledged.get();
  EXPECT_EQ(o5.status, DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(o5.message.find("already acknowledged"), std::string::npos)
      << o5.message;
  ProposalOutcome o6 = expired.get();
  EXPECT_EQ(o6.status, DENGINE_ERR_SESSION_EXPIRED);
  EXPECT_NE(o6.message.find("expired"), std::string::npos) << o6.message;
  EXPECT_EQ(machine_.kinds,
            (std::vector<uint32_t>{DENGINE_ENTRY_NOOP, DENGINE_ENTRY_NORMAL,
                                   DENGINE_ENTRY_NOOP, DENGINE_ENTRY_NORMAL,
                                   DENGINE_ENTRY_NOOP, DENGINE_ENTRY_NOOP,
                                   DENGINE_ENTRY_NORMAL}));
  EXPECT_EQ(machine_.payloads,
            (std::vector<std::string>{"", "a", "", "b", "", "", "x"}));
}

TEST_F(HandlerSessionTest, TheTableTravelsInASnapshotToAnotherReplica) {
  auto h = start(with_snapshots());
  const SessionHeader seq1{2, 1, 0}, seq2{2, 2, 0};
  h->apply({bootstrap_entry({1, 2}), register_entry(2),
            session_entry(3, 1, seq1, "a"), session_entry(4, 1, seq2, "b")});
  const storage::SnapshotInfo info = snapshot(*h);
  ASSERT_EQ(info.meta.index, 4u);
  EXPECT_TRUE(fs::is_regular_file(fs::path(info.data_dir) / "machine/state"));
  // The retry, as the first replica answers it.
  auto here = await_proposal(*h, 5);
  h->apply({session_entry(5, 1, seq2, "b")});
  ProposalOutcome expected = here.get();
  ASSERT_TRUE(expected.duplicate);

  // Another replica, running, receives the snapshot's files and installs
  // them.
  std::unique_ptr<storage::SnapshotStore> store;
  ASSERT_TRUE(storage::SnapshotStore::open((dir_ / "other").string(), 2, &store)
                  .is_ok());
  RecordingMachine machine;
  StateMachineHandlerOptions o;
  o.snapshots = store.get();
  StateMachineHandler other(machine.vtable(), o);
  std::string error;
  ASSERT_EQ(other.start(&error), DENGINE_OK) << error;
  std::unique_ptr<storage::SnapshotWriter> writer;
  ASSERT_TRUE(store->begin(info.meta, &writer).is_ok());
  fs::copy(info.data_dir, writer->data_dir(), fs::copy_options::recursive);
  storage::SnapshotInfo received;
  ASSERT_TRUE(writer->commit(info.sha256, &received).is_ok());
  std::promise<int> installed;
  other.install(received, [&](int status, const std::string& message) {
    EXPECT_EQ(status, DENGINE_OK) << message;
    installed.set_value(status);
  });
  auto there = await_proposal(other, 5);
  other.apply({session_entry(5, 1, seq2, "b")});
  ProposalOutcome answer = there.get();
  EXPECT_EQ(installed.get_future().get(), DENGINE_OK);
  EXPECT_TRUE(answer.duplicate);
  EXPECT_TRUE(answer.result_known);
  EXPECT_EQ(answer.result, expected.result);
  EXPECT_EQ(answer.data, expected.data);
  EXPECT_EQ(answer.data, "r4");
  EXPECT_EQ(machine.installs, 1);
  EXPECT_EQ(machine.kinds, (std::vector<uint32_t>{DENGINE_ENTRY_NOOP}));
}

TEST_F(HandlerSessionTest, AfterARestartADuplicateIsStillNotApplied) {
  const SessionHeader seq1{2, 1, 0}, seq2{2, 2, 0};
  std::vector<raft::Entry> log = {bootstrap_entry({1}), register_entry(2),
                                  session_entry(3, 1, seq1, "a"),
                                  session_entry(4, 1, seq2, "b")};
  {
    auto h = start(with_snapshots());
    h->apply({log[0], log[1], log[2]});
    EXPECT_EQ(snapshot(*h).meta.index, 3u);
    h->apply({log[3]});
    await_applied(*h, 4);
    EXPECT_EQ(h->stop(), DENGINE_OK);
  }
  // The snapshot at 3 remembers seq 1 with its result; seq 2 applied at 4
  // after it, and its result died with the process.
  machine_.kinds.clear();
  auto h = start(with_snapshots());
  ASSERT_EQ(h->replay_from(), 3u);
  ASSERT_EQ(h->last_applied(), 4u);
  auto retry1 = await_proposal(*h, 5);
  auto retry2 = await_proposal(*h, 6);
  h->apply(
      {log[3], session_entry(5, 1, seq1, "a"), session_entry(6, 1, seq2, "b")});
  ProposalOutcome o1 = retry1.get();
  EXPECT_TRUE(o1.duplicate);
  EXPECT_TRUE(o1.result_known);
  EXPECT_EQ(o1.data, "r3");
  ProposalOutcome o2 = retry2.get();
  EXPECT_EQ(o2.status, DENGINE_OK);
  EXPECT_TRUE(o2.duplicate);
  EXPECT_FALSE(o2.result_known);
  EXPECT_TRUE(o2.data.empty());
  EXPECT_EQ(machine_.kinds,
            (std::vector<uint32_t>{DENGINE_ENTRY_NOOP, DENGINE_ENTRY_NOOP}));

  // A snapshot taken now carries the unknown result on.
  const storage::SnapshotInfo info = snapshot(*h);
  SessionTable table;
  ASSERT_TRUE(SessionTable::decode(sessions_file(info), &table).is_ok());
  SessionDecision d = table.admit(7, seq2);
  EXPECT_EQ(d.verdict, SessionDecision::Verdict::kDuplicate);
  EXPECT_EQ(d.applied_at, 4u);
  EXPECT_FALSE(d.result.known);
}

TEST_F(HandlerSessionTest, WithoutASnapshotTheWholeLogRebuildsTheTable) {
  const SessionHeader seq1{1, 1, 0};
  {
    auto h = start({});
    h->apply({register_entry(1), session_entry(2, 1, seq1, "a"), entry(3)});
    await_applied(*h, 3);
    EXPECT_EQ(h->stop(), DENGINE_OK);
  }
  machine_.kinds.clear();
  auto h = start({});
  ASSERT_EQ(h->replay_from(), 0u);
  auto retry = await_proposal(*h, 4);
  // The re-delivered registration opens the session again.
  h->apply({register_entry(1), session_entry(2, 1, seq1, "a"), entry(3),
            session_entry(4, 1, seq1, "a")});
  ProposalOutcome o = retry.get();
  EXPECT_TRUE(o.duplicate);
  EXPECT_FALSE(o.result_known);
  EXPECT_EQ(machine_.kinds, (std::vector<uint32_t>{DENGINE_ENTRY_NOOP}));
}

TEST_F(HandlerSessionTest, ReplayNotFromReplayFromIsFatal) {
  {
    auto h = start(with_snapshots());
    h->apply({bootstrap_entry({1}), entry(2)});
    EXPECT_EQ(snapshot(*h).meta.index, 2u);
    h->apply(entries(3, 4));
    await_applied(*h, 4);
    EXPECT_EQ(h->stop(), DENGINE_OK);
  }
  std::promise<std::pair<int, std::string>> fatal;
  StateMachineHandlerOptions o = with_snapshots();
  o.on_fatal = [&](int code, const std::string& message) {
    fatal.set_value({code, message});
  };
  auto h = start(o);
  // Entries 3 and 4 are not re-delivered: the table cannot know them.
  h->apply(entries(5, 5));
  auto [code, message] = fatal.get_future().get();
  EXPECT_EQ(code, DENGINE_ERR_INTERNAL);
  EXPECT_NE(message.find("replay_from"), std::string::npos) << message;
  EXPECT_EQ(machine_.last(), 4u);
}

TEST_F(HandlerSessionTest, ASnapshotWithoutItsSessionTableIsRefused) {
  std::unique_ptr<storage::SnapshotWriter> writer;
  ASSERT_TRUE(store_->begin({8, 4, {}}, &writer).is_ok());
  fs::create_directories(fs::path(writer->data_dir()) / kSnapshotMachineDir);
  std::ofstream(fs::path(writer->data_dir()) / kSnapshotMachineDir / "state")
      << 8;
  storage::SnapshotInfo info;
  ASSERT_TRUE(writer->commit("", &info).is_ok());
  StateMachineHandler h(machine_.vtable(), {});
  std::string error;
  ASSERT_EQ(h.start(&error), DENGINE_OK) << error;
  std::promise<std::pair<int, std::string>> installed;
  h.install(info, [&](int status, const std::string& message) {
    installed.set_value({status, message});
  });
  auto [code, message] = installed.get_future().get();
  EXPECT_EQ(code, DENGINE_ERR_CORRUPTION);
  EXPECT_NE(message.find("session table"), std::string::npos) << message;
  EXPECT_EQ(machine_.installs, 0);
}

TEST_F(HandlerSessionTest, ReplicasFedTheSameEntriesHoldTheSameTable) {
  // A mix of registrations, clients, retries, acknowledgements, refusals,
  // unknown clients and plain entries, applied in one-entry chunks here and
  // in large ones there.
  std::vector<raft::Entry> log = {bootstrap_entry({1, 2, 3})};
  for (raft::Index id = 2; id <= 5; ++id) log.push_back(register_entry(id));
  for (uint64_t i = 0; i < 60; ++i) {
    const raft::Index index = log.size() + 1;
    const uint64_t client = i % 11 == 5 ? 999 : 2 + i % 4;
    const uint64_t seq = 1 + i / 5;
    const uint64_t acked = seq > 3 ? seq - 3 : 0;
    if (i % 7 == 3) {
      log.push_back(entry(index, 1, "plain"));
    } else {
      log.push_back(session_entry(index, 1, SessionHeader{client, seq, acked},
                                  "p" + std::to_string(i)));
    }
  }
  const raft::Index last = log.size();

  StateMachineHandlerOptions small = with_snapshots();
  small.max_chunk_entries = 1;
  auto h = start(small);
  h->apply(log);
  await_applied(*h, last);
  const std::string here = sessions_file(snapshot(*h));

  std::unique_ptr<storage::SnapshotStore> store;
  ASSERT_TRUE(storage::SnapshotStore::open((dir_ / "other").string(), 2, &store)
                  .is_ok());
  RecordingMachine machine;
  StateMachineHandlerOptions large;
  large.snapshots = store.get();
  large.snapshot_policy = {0, 0};
  StateMachineHandler other(machine.vtable(), large);
  std::string error;
  ASSERT_EQ(other.start(&error), DENGINE_OK) << error;
  other.apply(log);
  await_applied(other, last);
  const std::string there = sessions_file(snapshot(other));

  EXPECT_EQ(here, there);
  EXPECT_EQ(machine.kinds, machine_.kinds);
  EXPECT_EQ(machine.payloads, machine_.payloads);
  // Something was deduplicated: the sequence repeats seqs per client.
  EXPECT_GT(std::count(machine.kinds.begin(), machine.kinds.end(),
                       DENGINE_ENTRY_NOOP),
            0);
}

}  // namespace
}  // namespace dengine::sm
