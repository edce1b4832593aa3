// RaftLog: the durable log (Storage) plus the unstable tail, the commit index
// and the applied index.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft_log.h"

namespace dengine::raft {
namespace {

Entry make_entry(Index index, Term term, std::string data = "") {
  Entry entry;
  entry.index = index;
  entry.term = term;
  entry.data = std::move(data);
  return entry;
}

// Entries first, first+1, ... with the given terms and 10-byte payloads.
std::vector<Entry> run(Index first, const std::vector<Term>& terms) {
  std::vector<Entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) {
    entries.push_back(make_entry(first + i, terms[i], std::string(10, 'x')));
  }
  return entries;
}

std::vector<Index> indexes(const std::vector<Entry>& entries) {
  std::vector<Index> out;
  for (const Entry& entry : entries) out.push_back(entry.index);
  return out;
}

std::vector<Term> terms_of(const RaftLog& log) {
  std::vector<Term> out;
  for (Index i = log.first_index(); i <= log.last_index(); ++i) {
    out.push_back(log.term(i).value_or(UINT64_MAX));
  }
  return out;
}

// What the host does with a Ready: persist the snapshot and the unstable
// tail, then acknowledge them.
void persist(RaftLog* log, MemoryStorage* storage) {
  if (const std::optional<Snapshot>& snapshot = log->unstable_snapshot()) {
    const Index index = snapshot->meta.index;
    storage->apply_snapshot(*snapshot);
    log->stable_snapshot_to(index);
  }
  const std::vector<Entry> entries = log->unstable_entries();
  if (entries.empty()) return;
  storage->append(entries);
  log->stable_to(entries.back().index, entries.back().term);
}

TEST(RaftLog, EmptyLogHasTermZeroAtIndexZero) {
  MemoryStorage storage;
  RaftLog log(&storage);
  EXPECT_EQ(log.first_index(), 1u);
  EXPECT_EQ(log.last_index(), 0u);
  EXPECT_EQ(log.last_term(), 0u);
  EXPECT_EQ(log.term(0), Term{0});
  EXPECT_EQ(log.term(1), std::nullopt);
  EXPECT_EQ(log.committed(), 0u);
  EXPECT_EQ(log.applied(), 0u);
  EXPECT_EQ(log.stable_last_index(), 0u);
}

TEST(RaftLog, StartsAfterWhatTheStorageHolds) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 2, 2, 3, 3, 3, 3}));
  ASSERT_TRUE(storage.create_snapshot(5, ConfState{{1}, {}}, ""));
  RaftLog log(&storage);
  EXPECT_EQ(log.first_index(), 6u);
  EXPECT_EQ(log.last_index(), 8u);
  EXPECT_EQ(log.last_term(), 3u);
  EXPECT_EQ(log.committed(), 5u) << "a snapshot is committed";
  EXPECT_EQ(log.applied(), 5u);
  EXPECT_EQ(log.stable_last_index(), 8u);
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(log.term(5), Term{3}) << "the snapshot's term";
  EXPECT_EQ(log.term(4), std::nullopt) << "compacted";
  EXPECT_EQ(log.term(0), std::nullopt) << "compacted";
  EXPECT_EQ(log.term(9), std::nullopt) << "past the end";
}

TEST(RaftLog, RestoreTakesCommitFromHardStateAndCapsApplied) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1, 1, 1, 1}));
  ASSERT_TRUE(storage.create_snapshot(2, ConfState{{1}, {}}, ""));
  RaftLog log(&storage);
  log.restore(5, 9);
  EXPECT_EQ(log.committed(), 5u);
  EXPECT_EQ(log.applied(), 5u) << "applied never exceeds committed";
  log.restore(4, 0);
  EXPECT_EQ(log.applied(), 2u) << "the snapshot is already applied";
  log.restore(0, 0);
  EXPECT_EQ(log.committed(), 2u) << "at least the snapshot index";
}

TEST(RaftLog, AppendNumbersEntriesAfterTheLastIndex) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1}));
  RaftLog log(&storage);
  Entry proposal;
  proposal.term = 2;
  proposal.data = "set x";
  log.append({proposal, proposal});
  EXPECT_EQ(log.last_index(), 4u);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{3, 4}));
  EXPECT_EQ(log.unstable_entries()[0].data, "set x");
  EXPECT_EQ(log.last_term(), 2u);
  EXPECT_EQ(log.stable_last_index(), 2u);
}

TEST(RaftLog, AppendAfterSkipsEntriesAlreadyHeld) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 2, 2, 2}));
  RaftLog log(&storage);
  EXPECT_EQ(log.append_after(1, run(2, {1, 2, 2})), 0u);
  EXPECT_EQ(log.last_index(), 5u)
      << "an older, shorter append truncates nothing";
  EXPECT_TRUE(log.unstable_entries().empty());
}

TEST(RaftLog, AppendAfterExtendsTheLogPastItsEnd) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 2}));
  RaftLog log(&storage);
  EXPECT_EQ(log.append_after(2, run(3, {2, 2, 3})), 4u);
  EXPECT_EQ(log.last_index(), 5u);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{4, 5}));
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 1, 2, 2, 3}));
}

TEST(RaftLog, AppendAfterTruncatesOnlyAtFirstConflict) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1, 1, 1, 1}));
  RaftLog log(&storage);
  log.commit_to(2);
  EXPECT_EQ(log.append_after(2, run(3, {1, 2, 2})), 4u);
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 1, 1, 2, 2}))
      << "entry 6 of the old term is gone";
  EXPECT_EQ(log.last_index(), 5u);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{4, 5}));
  EXPECT_EQ(log.stable_last_index(), 3u)
      << "stored entries from the conflict on no longer count as durable";
  persist(&log, &storage);
  EXPECT_EQ(storage.last_index(), 5u);
  EXPECT_EQ(log.stable_last_index(), 5u);
}

TEST(RaftLog, AppendAfterConflictInsideTheUnstableTail) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1}));
  RaftLog log(&storage);
  log.append_after(2, run(3, {2, 2, 2, 2}));
  EXPECT_EQ(log.append_after(4, run(5, {3, 3})), 5u);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{3, 4, 5, 6}));
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 1, 2, 2, 3, 3}));
}

TEST(RaftLog, AppendAfterConflictBeforeTheUnstableTail) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.append_after(3, run(4, {1, 1}));
  EXPECT_EQ(log.append_after(1, run(2, {2})), 2u);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{2}));
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 2}));
  EXPECT_EQ(log.stable_last_index(), 1u);
}

TEST(RaftLog, AppendAfterIgnoresEntriesCoveredBySnapshot) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1, 1}));
  ASSERT_TRUE(storage.create_snapshot(3, ConfState{{1}, {}}, ""));
  RaftLog log(&storage);
  EXPECT_EQ(log.append_after(1, run(2, {1, 1, 1, 2})), 5u);
  EXPECT_EQ(terms_of(log), (std::vector<Term>{1, 2}));
}

TEST(RaftLogDeathTest, AppendAfterOverwritingACommittedEntryAborts) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.commit_to(3);
  EXPECT_DEATH(log.append_after(1, run(2, {1, 2})), "");
}

TEST(RaftLog, FindConflictByTermReturnsLastIndexWithTermAtMostGiven) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1, 4, 4, 5, 5, 5, 6, 6}));
  RaftLog log(&storage);
  EXPECT_EQ(log.find_conflict_by_term(10, 6), 10u);
  EXPECT_EQ(log.find_conflict_by_term(10, 5), 8u);
  EXPECT_EQ(log.find_conflict_by_term(7, 4), 5u);
  EXPECT_EQ(log.find_conflict_by_term(10, 3), 3u);
  EXPECT_EQ(log.find_conflict_by_term(10, 0), 0u);
  EXPECT_EQ(log.find_conflict_by_term(50, 9), 10u) << "capped at last index";
}

TEST(RaftLog, FindConflictByTermStopsAtTheCompactedPrefix) {
  MemoryStorage storage;
  storage.append(run(1, {1, 2, 3, 4, 5}));
  ASSERT_TRUE(storage.create_snapshot(3, ConfState{{1}, {}}, ""));
  RaftLog log(&storage);
  EXPECT_EQ(log.find_conflict_by_term(5, 3), 3u);
  EXPECT_LE(log.find_conflict_by_term(5, 1), 3u);
  EXPECT_GE(log.find_conflict_by_term(5, 1), 2u);
}

TEST(RaftLog, IsUpToDateComparesLastTermThenLength) {
  MemoryStorage storage;
  storage.append(run(1, {1, 2, 2}));
  RaftLog log(&storage);
  EXPECT_TRUE(log.is_up_to_date(1, 3)) << "higher last term wins";
  EXPECT_FALSE(log.is_up_to_date(9, 1)) << "lower last term loses";
  EXPECT_TRUE(log.is_up_to_date(3, 2)) << "equal is up to date";
  EXPECT_TRUE(log.is_up_to_date(4, 2));
  EXPECT_FALSE(log.is_up_to_date(2, 2)) << "shorter loses";
}

TEST(RaftLog, MatchTermIsFalseForUnknownIndexes) {
  MemoryStorage storage;
  storage.append(run(1, {1, 2}));
  RaftLog log(&storage);
  EXPECT_TRUE(log.match_term(0, 0));
  EXPECT_TRUE(log.match_term(2, 2));
  EXPECT_FALSE(log.match_term(2, 1));
  EXPECT_FALSE(log.match_term(3, 0));
}

TEST(RaftLog, CommitToOnlyMovesForward) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.commit_to(2);
  EXPECT_EQ(log.committed(), 2u);
  log.commit_to(1);
  EXPECT_EQ(log.committed(), 2u);
}

TEST(RaftLogDeathTest, CommitPastTheLastIndexAborts) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  EXPECT_DEATH(log.commit_to(4), "");
}

TEST(RaftLog, SliceSpansStorageAndUnstableTail) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.append(run(4, {2, 2}));
  std::optional<std::vector<Entry>> slice = log.slice(2, 6, UINT64_MAX);
  ASSERT_TRUE(slice.has_value());
  EXPECT_EQ(*slice, (std::vector<Entry>{run(2, {1, 1, 2, 2})}));
  slice = log.slice(4, 6, UINT64_MAX);
  ASSERT_TRUE(slice.has_value());
  EXPECT_EQ(indexes(*slice), (std::vector<Index>{4, 5}));
  slice = log.slice(1, 3, UINT64_MAX);
  ASSERT_TRUE(slice.has_value());
  EXPECT_EQ(indexes(*slice), (std::vector<Index>{1, 2}));
}

TEST(RaftLog, SliceCapsBytesAcrossTheStorageBoundary) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.append(run(4, {2, 2}));
  EXPECT_EQ(indexes(log.slice(2, 6, 35).value()),
            (std::vector<Index>{2, 3, 4}));
  EXPECT_EQ(indexes(log.slice(2, 6, 15).value()), (std::vector<Index>{2}));
  EXPECT_EQ(indexes(log.slice(4, 6, 0).value()), (std::vector<Index>{4}))
      << "at least one entry";
  EXPECT_EQ(indexes(log.slice(3, 6, 0).value()), (std::vector<Index>{3}));
}

TEST(RaftLog, SliceRefusesCompactedAndClampsAtTheEnd) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1, 1}));
  ASSERT_TRUE(storage.create_snapshot(2, ConfState{{1}, {}}, ""));
  RaftLog log(&storage);
  EXPECT_EQ(log.slice(2, 4, UINT64_MAX), std::nullopt);
  EXPECT_EQ(indexes(log.slice(3, 10, UINT64_MAX).value()),
            (std::vector<Index>{3, 4}));
  EXPECT_TRUE(log.slice(5, 5, UINT64_MAX).value().empty());
}

TEST(RaftLog, NextCommittedHandsOutEntriesAfterApplied) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1, 1, 1}));
  RaftLog log(&storage);
  EXPECT_FALSE(log.has_next_committed());
  log.commit_to(4);
  ASSERT_TRUE(log.has_next_committed());
  EXPECT_EQ(indexes(log.next_committed(UINT64_MAX)),
            (std::vector<Index>{1, 2, 3, 4}));
  EXPECT_EQ(indexes(log.next_committed(25)), (std::vector<Index>{1, 2}));
  log.applied_to(2);
  EXPECT_EQ(indexes(log.next_committed(0)), (std::vector<Index>{3}));
  log.applied_to(4);
  EXPECT_FALSE(log.has_next_committed());
  EXPECT_TRUE(log.next_committed(UINT64_MAX).empty());
}

TEST(RaftLog, NextCommittedIncludesUnstableEntries) {
  MemoryStorage storage;
  storage.append(run(1, {1}));
  RaftLog log(&storage);
  log.append(run(2, {1, 1}));
  log.commit_to(3);
  EXPECT_EQ(indexes(log.next_committed(UINT64_MAX)),
            (std::vector<Index>{1, 2, 3}));
}

TEST(RaftLog, AppliedToOnlyMovesForward) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.commit_to(3);
  log.applied_to(3);
  log.applied_to(1);
  EXPECT_EQ(log.applied(), 3u);
}

TEST(RaftLogDeathTest, ApplyingPastCommittedAborts) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.commit_to(2);
  EXPECT_DEATH(log.applied_to(3), "");
}

TEST(RaftLog, StableToAcknowledgesThePersistedPrefix) {
  MemoryStorage storage;
  RaftLog log(&storage);
  log.append(run(1, {1, 1, 1}));
  storage.append({log.unstable_entries()[0], log.unstable_entries()[1]});
  log.stable_to(2, 1);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{3}));
  EXPECT_EQ(log.stable_last_index(), 2u);
  EXPECT_EQ(log.last_index(), 3u);
  log.stable_to(2, 1);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{3}));
}

TEST(RaftLog, StableToIgnoresAnEntryOverwrittenSinceHandedOut) {
  MemoryStorage storage;
  storage.append(run(1, {1}));
  RaftLog log(&storage);
  log.append_after(1, run(2, {1, 1}));
  const std::vector<Entry> handed_out = log.unstable_entries();
  log.append_after(1, run(2, {2}));
  storage.append(handed_out);
  log.stable_to(3, 1);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{2}));
  EXPECT_EQ(log.stable_last_index(), 1u);
  log.stable_to(2, 1);
  EXPECT_EQ(indexes(log.unstable_entries()), (std::vector<Index>{2}))
      << "term 1 at index 2 was replaced by term 2";
}

TEST(RaftLog, RestoreSnapshotReplacesTheLog) {
  MemoryStorage storage;
  storage.append(run(1, {1, 1, 1}));
  RaftLog log(&storage);
  log.commit_to(1);
  log.applied_to(1);
  log.append(run(4, {1}));
  const Snapshot snapshot{SnapshotMeta{10, 3, ConfState{{1, 2}, {}}}, "s"};
  log.restore_snapshot(snapshot);
  EXPECT_EQ(log.unstable_snapshot(), snapshot);
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(log.first_index(), 11u);
  EXPECT_EQ(log.last_index(), 10u);
  EXPECT_EQ(log.last_term(), 3u);
  EXPECT_EQ(log.term(10), Term{3});
  EXPECT_EQ(log.term(3), std::nullopt) << "hidden by the snapshot";
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_EQ(log.applied(), 1u) << "the host has not installed it yet";
  EXPECT_FALSE(log.has_next_committed())
      << "the snapshot, not entries, brings the host to index 10";
  EXPECT_EQ(log.slice(3, 4, UINT64_MAX), std::nullopt);
  EXPECT_EQ(log.stable_last_index(), 0u)
      << "nothing of the new log is durable yet";
}

TEST(RaftLog, EntriesAfterAPendingSnapshotFollowIt) {
  MemoryStorage storage;
  RaftLog log(&storage);
  log.restore_snapshot(Snapshot{SnapshotMeta{10, 3, ConfState{{1}, {}}}, ""});
  EXPECT_EQ(log.append_after(10, run(11, {3, 4})), 11u);
  EXPECT_EQ(terms_of(log), (std::vector<Term>{3, 4}));
  EXPECT_EQ(log.last_index(), 12u);
  persist(&log, &storage);
  EXPECT_FALSE(log.unstable_snapshot().has_value());
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_EQ(storage.first_index(), 11u);
  EXPECT_EQ(storage.last_index(), 12u);
  EXPECT_EQ(log.stable_last_index(), 12u);
  log.applied_to(10);
  log.commit_to(12);
  EXPECT_EQ(indexes(log.next_committed(UINT64_MAX)),
            (std::vector<Index>{11, 12}));
}

TEST(RaftLog, StableSnapshotToIgnoresAnotherIndex) {
  MemoryStorage storage;
  RaftLog log(&storage);
  log.restore_snapshot(Snapshot{SnapshotMeta{10, 3, ConfState{{1}, {}}}, ""});
  log.stable_snapshot_to(9);
  EXPECT_TRUE(log.unstable_snapshot().has_value());
  log.stable_snapshot_to(10);
  EXPECT_FALSE(log.unstable_snapshot().has_value());
}

}  // namespace
}  // namespace dengine::raft
