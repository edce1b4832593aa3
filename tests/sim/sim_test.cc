// The simulator's CI budget and its self-tests: thousands of seeded runs of
// the Raft core under faults, each fault class alone, and proof that the
// checker does report each kind of violation it claims to detect.
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "raft/raft_log.h"
#include "raft/storage.h"
#include "raft/types.h"
#include "testkit/sim_checker.h"
#include "testkit/sim_runner.h"
#include "testkit/sim_state_machine.h"

namespace dengine::testkit {

// Names the fault mode in test listings.
void PrintTo(FaultMode mode, std::ostream* out) { *out << to_string(mode); }

namespace {

using raft::Entry;
using raft::EntryType;

constexpr uint64_t kMixedSeeds = DENGINE_SIM_SEEDS;
constexpr int64_t kDurationMs = DENGINE_SIM_DURATION_MS;
constexpr int kShards = 8;
// The focused suites run a twentieth of the budget each (100 seeds in the
// optimized build).
constexpr uint64_t kFocusedSeeds =
    kMixedSeeds / 20 < 10 ? 10 : kMixedSeeds / 20;

// The options every CI run uses.
SimOptions ci_options(FaultMode faults) {
  SimOptions options;
  options.faults = faults;
  options.duration_ms = kDurationMs;
  return options;
}

void expect_seeds_pass(SimOptions options, uint64_t first, uint64_t count) {
  for (uint64_t seed = first; seed < first + count; ++seed) {
    options.seed = seed;
    const SimResult result = run_simulation(options, nullptr);
    if (!result.ok) {
      ADD_FAILURE() << failure_report(DENGINE_SIM_BINARY, options, result);
      return;
    }
    ASSERT_GT(result.recovery_us, 0) << "seed " << seed;
  }
}

class MixedFaults : public testing::TestWithParam<int> {};

TEST_P(MixedFaults, EverySeedIsSafeAndRecovers) {
  const uint64_t per_shard = (kMixedSeeds + kShards - 1) / kShards;
  expect_seeds_pass(ci_options(FaultMode::kMixed), 1 + GetParam() * per_shard,
                    per_shard);
}

INSTANTIATE_TEST_SUITE_P(Shards, MixedFaults, testing::Range(0, kShards));

class EachFault : public testing::TestWithParam<FaultMode> {};

TEST_P(EachFault, AloneIsSafeAndRecovers) {
  expect_seeds_pass(ci_options(GetParam()), 1'000'000, kFocusedSeeds);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, EachFault,
    testing::Values(FaultMode::kNone, FaultMode::kLoss, FaultMode::kPartition,
                    FaultMode::kCrash, FaultMode::kMembership,
                    FaultMode::kTransfer, FaultMode::kLearners),
    [](const testing::TestParamInfo<FaultMode>& info) {
      return std::string(to_string(info.param));
    });

TEST(Simulator, FiveVotersUnderMixedFaults) {
  SimOptions options = ci_options(FaultMode::kMixed);
  options.nodes = 5;
  expect_seeds_pass(options, 2'000'000, kFocusedSeeds);
}

TEST(Simulator, ReplaysASeedExactly) {
  SimOptions options = ci_options(FaultMode::kMixed);
  options.seed = 42;
  const SimResult a = run_simulation(options, nullptr);
  SimTrace trace(nullptr, 10);
  const SimResult b = run_simulation(options, &trace);
  EXPECT_EQ(a.end_us, b.end_us);
  EXPECT_EQ(a.nodes, b.nodes);
  EXPECT_EQ(a.stats.messages_sent, b.stats.messages_sent);
  EXPECT_EQ(a.stats.entries_applied, b.stats.entries_applied);
  EXPECT_FALSE(trace.tail().empty());
}

TEST(Simulator, ExercisesWhatItClaims) {
  SimStats totals;
  SimOptions options = ci_options(FaultMode::kMixed);
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    options.seed = seed;
    const SimResult result = run_simulation(options, nullptr);
    ASSERT_TRUE(result.ok) << result.violation;
    totals.add(result.stats);
  }
  EXPECT_GT(totals.proposals_acknowledged, 1000u);
  EXPECT_GT(totals.reads_confirmed, 100u);
  EXPECT_GT(totals.snapshots_installed, 0u);
  EXPECT_GT(totals.writes_lost, 0u);
  EXPECT_GT(totals.messages_duplicated, 0u);
  EXPECT_GT(totals.conf_changes_applied, 20u * 3);
  EXPECT_GT(totals.transfers, 0u);
}

TEST(Simulator, ReplayCommandNamesEveryNonDefaultOption) {
  SimOptions options;
  options.seed = 123456;
  EXPECT_EQ(replay_command("build/release/tests/sim/dengine-sim", options),
            "build/release/tests/sim/dengine-sim --seed 123456 --faults mixed "
            "--verbose");
  options.faults = FaultMode::kCrash;
  options.nodes = 5;
  options.duration_ms = 300;
  EXPECT_EQ(replay_command("dengine-sim", options),
            "dengine-sim --seed 123456 --faults crash --nodes 5 --duration 300 "
            "--verbose");
}

TEST(Simulator, ParsesEveryFaultMode) {
  for (const char* name : {"none", "loss", "partition", "crash", "membership",
                           "transfer", "mixed"}) {
    FaultMode mode;
    ASSERT_TRUE(parse_fault_mode(name, &mode)) << name;
    EXPECT_EQ(std::string(to_string(mode)), name);
  }
  FaultMode mode;
  EXPECT_FALSE(parse_fault_mode("chaos", &mode));
}

// --- the checker can fail ---

Entry entry(raft::Term term, raft::Index index, std::string data) {
  return Entry{term, index, EntryType::kNormal, std::move(data)};
}

// Storage holding `entries` (from index 1).
void fill(raft::MemoryStorage* storage, const std::vector<Entry>& entries) {
  storage->append(entries);
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

TEST(SimCheckerTest, AcceptsConsistentObservations) {
  SimChecker checker;
  raft::MemoryStorage s1;
  raft::MemoryStorage s2;
  const std::vector<Entry> log = {entry(1, 1, "a"), entry(1, 2, "b")};
  fill(&s1, log);
  fill(&s2, log);
  checker.on_persisted(1, log, s1);
  checker.on_persisted(2, log, s2);
  raft::RaftLog log1(&s1);
  checker.on_leader(1, 1, &log1);
  checker.on_leader_commit(1, 1, log1, 0, 2);
  SimStateMachine sm;
  for (const Entry& e : log) {
    sm.apply(e);
    checker.on_apply(1, 1, e, sm.hash());
    checker.on_apply(2, 1, e, sm.hash());
  }
  checker.on_acknowledged(2, 1);
  raft::RaftLog log2(&s2);
  checker.on_leader(2, 2, &log2);
  EXPECT_TRUE(checker.ok()) << checker.violation();
}

// Figure 8 of the Raft paper: an entry of term 2 committed only by the leader
// of term 4 need not be in the log of the leader of term 3.
TEST(SimCheckerTest, JudgesCompletenessByTheCommitTerm) {
  SimChecker checker;
  raft::MemoryStorage s1;
  fill(&s1, {entry(1, 1, "a"), entry(2, 2, "b"), entry(4, 3, "")});
  raft::RaftLog log1(&s1);
  raft::MemoryStorage s5;
  fill(&s5, {entry(1, 1, "a"), entry(3, 2, "c")});
  raft::RaftLog log5(&s5);
  checker.on_leader(5, 3, &log5);
  checker.on_leader(1, 4, &log1);
  checker.on_leader_commit(1, 4, log1, 0, 3);
  EXPECT_TRUE(checker.ok()) << checker.violation();
  // A leader of term 5 must hold it, though.
  checker.on_leader(5, 5, &log5);
  EXPECT_TRUE(starts_with(checker.violation(), "leader completeness:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesTwoEntriesAtOneIndexAndTerm) {
  SimChecker checker;
  raft::MemoryStorage s1;
  raft::MemoryStorage s2;
  fill(&s1, {entry(1, 1, "a")});
  fill(&s2, {entry(1, 1, "b")});
  checker.on_persisted(1, {entry(1, 1, "a")}, s1);
  EXPECT_TRUE(checker.ok());
  checker.on_persisted(2, {entry(1, 1, "b")}, s2);
  EXPECT_TRUE(starts_with(checker.violation(), "log matching:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesSameEntryAfterDifferentPreviousTerms) {
  SimChecker checker;
  raft::MemoryStorage s1;
  raft::MemoryStorage s2;
  fill(&s1, {entry(1, 1, "a"), entry(3, 2, "c")});
  fill(&s2, {entry(2, 1, "b"), entry(3, 2, "c")});
  checker.on_persisted(1, {entry(1, 1, "a"), entry(3, 2, "c")}, s1);
  checker.on_persisted(2, {entry(2, 1, "b"), entry(3, 2, "c")}, s2);
  EXPECT_TRUE(starts_with(checker.violation(), "log matching:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesTwoLeadersInOneTerm) {
  SimChecker checker;
  raft::MemoryStorage storage;
  raft::RaftLog log(&storage);
  checker.on_leader(1, 5, &log);
  checker.on_leader(1, 5, &log);
  EXPECT_TRUE(checker.ok());
  checker.on_leader(2, 5, &log);
  EXPECT_TRUE(starts_with(checker.violation(), "election safety:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesDifferentEntriesAppliedAtOneIndex) {
  SimChecker checker;
  SimStateMachine a;
  SimStateMachine b;
  a.apply(entry(1, 1, "a"));
  b.apply(entry(2, 1, "b"));
  checker.on_apply(1, 1, entry(1, 1, "a"), a.hash());
  checker.on_apply(2, 1, entry(2, 1, "b"), b.hash());
  EXPECT_TRUE(starts_with(checker.violation(), "state-machine safety:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesDivergentStateFromASnapshot) {
  SimChecker checker;
  SimStateMachine sm;
  sm.apply(entry(1, 1, "a"));
  checker.on_apply(1, 1, entry(1, 1, "a"), sm.hash());
  checker.on_state_restored(2, 1, 1, sm.hash() + 1);
  EXPECT_TRUE(starts_with(checker.violation(), "state-machine safety:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesAGapInAppliedEntries) {
  SimChecker checker;
  checker.on_apply(1, 1, entry(1, 1, "a"), 1);
  checker.on_apply(1, 1, entry(1, 3, "c"), 3);
  EXPECT_TRUE(starts_with(checker.violation(), "applied monotonicity:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesALeaderMissingACommittedEntry) {
  SimChecker checker;
  raft::MemoryStorage full;
  fill(&full, {entry(1, 1, "a"), entry(1, 2, "b")});
  raft::RaftLog full_log(&full);
  checker.on_leader(1, 1, &full_log);
  checker.on_leader_commit(1, 1, full_log, 0, 2);
  checker.on_commit(1, 1, 2);
  raft::MemoryStorage short_storage;
  fill(&short_storage, {entry(1, 1, "a")});
  raft::RaftLog short_log(&short_storage);
  checker.on_leader(2, 2, &short_log);
  EXPECT_TRUE(starts_with(checker.violation(), "leader completeness:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesALaterLeaderMissingAnAcknowledgedWrite) {
  SimChecker checker;
  raft::MemoryStorage first;
  fill(&first, {entry(1, 1, "a")});
  raft::RaftLog first_log(&first);
  checker.on_leader(1, 1, &first_log);
  checker.on_leader_commit(1, 1, first_log, 0, 1);
  checker.on_commit(1, 1, 1);
  SimStateMachine sm;
  sm.apply(entry(1, 1, "a"));
  checker.on_apply(1, 1, entry(1, 1, "a"), sm.hash());
  checker.on_acknowledged(1, 1);
  raft::MemoryStorage other;
  fill(&other, {entry(2, 1, "x")});
  raft::RaftLog other_log(&other);
  checker.on_leader(3, 3, &other_log);
  EXPECT_TRUE(starts_with(checker.violation(), "acknowledged write lost:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesACommitByAStaleLeaderThatANewerLeaderLacks) {
  SimChecker checker;
  raft::MemoryStorage empty;
  raft::RaftLog empty_log(&empty);
  raft::MemoryStorage stale;
  fill(&stale, {entry(1, 1, "a")});
  raft::RaftLog stale_log(&stale);
  checker.on_leader(1, 1, &stale_log);
  checker.on_leader(2, 2, &empty_log);
  checker.on_leader_commit(1, 1, stale_log, 0, 1);
  EXPECT_TRUE(starts_with(checker.violation(), "leader completeness:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesTwoTermsCommittedAtOneIndex) {
  SimChecker checker;
  raft::MemoryStorage s1;
  fill(&s1, {entry(1, 1, "a")});
  raft::RaftLog log1(&s1);
  raft::MemoryStorage s2;
  fill(&s2, {entry(2, 1, "b")});
  raft::RaftLog log2(&s2);
  checker.on_leader_commit(1, 1, log1, 0, 1);
  checker.on_leader_commit(2, 2, log2, 0, 1);
  EXPECT_TRUE(starts_with(checker.violation(), "state-machine safety:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesCommitGoingBackWithinOneLife) {
  SimChecker checker;
  checker.on_commit(1, 1, 5);
  checker.on_commit(1, 2, 3);  // a restart may start lower
  EXPECT_TRUE(checker.ok());
  checker.on_commit(1, 2, 2);
  EXPECT_TRUE(starts_with(checker.violation(), "commit monotonicity:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesAVoteChangedWithinATerm) {
  SimChecker checker;
  checker.on_hard_state(1, {3, 1, 0}, {3, 2, 0});
  EXPECT_TRUE(starts_with(checker.violation(), "vote safety:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesAStaleRead) {
  SimChecker checker;
  checker.on_commit(1, 1, 7);
  const raft::Index floor = checker.read_floor();
  checker.on_read_state(2, raft::ReadState{7, "fresh"}, floor);
  EXPECT_TRUE(checker.ok());
  checker.on_read_state(2, raft::ReadState{5, "stale"}, floor);
  EXPECT_TRUE(starts_with(checker.violation(), "linearizable read:"))
      << checker.violation();
}

TEST(SimCheckerTest, CatchesAValueCommittedTwice) {
  SimChecker checker;
  checker.on_apply(1, 1, entry(1, 1, "c1.1"), 1);
  checker.on_apply(1, 1, entry(1, 2, "c1.1"), 2);
  EXPECT_TRUE(starts_with(checker.violation(), "no duplicate commit:"))
      << checker.violation();
}

TEST(SimCheckerTest, KeepsTheFirstViolation) {
  SimChecker checker;
  checker.fail("first: a");
  checker.fail("second: b");
  EXPECT_EQ(checker.violation(), "first: a");
}

}  // namespace
}  // namespace dengine::testkit
