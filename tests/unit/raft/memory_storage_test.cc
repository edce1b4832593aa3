// MemoryStorage: the in-memory log the simulator and unit tests persist to.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "raft/storage.h"

namespace dengine::raft {
namespace {

Entry make_entry(Index index, Term term, std::string data = "") {
  Entry entry;
  entry.index = index;
  entry.term = term;
  entry.data = std::move(data);
  return entry;
}

// Entries 1..n, entry i having term terms[i-1] and a 10-byte payload.
MemoryStorage storage_with_terms(const std::vector<Term>& terms) {
  MemoryStorage storage;
  std::vector<Entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) {
    entries.push_back(make_entry(i + 1, terms[i], std::string(10, 'x')));
  }
  storage.append(entries);
  return storage;
}

std::vector<Index> indexes(const std::vector<Entry>& entries) {
  std::vector<Index> out;
  for (const Entry& entry : entries) out.push_back(entry.index);
  return out;
}

TEST(MemoryStorage, StartsEmptyWithTermZeroAtIndexZero) {
  MemoryStorage storage;
  EXPECT_EQ(storage.first_index(), 1u);
  EXPECT_EQ(storage.last_index(), 0u);
  Term term = 99;
  EXPECT_EQ(storage.term(0, &term), StorageError::kOk);
  EXPECT_EQ(term, 0u);
  EXPECT_EQ(storage.term(1, &term), StorageError::kUnavailable);
  EXPECT_TRUE(storage.snapshot().empty());
  EXPECT_EQ(storage.initial_state().hard_state, HardState{});
  EXPECT_EQ(storage.initial_state().conf, ConfState{});
}

TEST(MemoryStorage, InitialStateReturnsHardStateAndSnapshotConf) {
  MemoryStorage storage = storage_with_terms({1, 1, 2});
  storage.set_hard_state(HardState{2, 3, 2});
  ASSERT_TRUE(storage.create_snapshot(2, ConfState{{1, 2, 3}, {4}}, "state"));
  const InitialState state = storage.initial_state();
  EXPECT_EQ(state.hard_state, (HardState{2, 3, 2}));
  EXPECT_EQ(state.conf, (ConfState{{1, 2, 3}, {4}}));
}

TEST(MemoryStorage, TermAnswersSnapshotIndexButNotBelowOrPastEnd) {
  MemoryStorage storage = storage_with_terms({1, 2, 3, 4, 5});
  ASSERT_TRUE(storage.create_snapshot(3, ConfState{{1}, {}}, ""));
  Term term = 0;
  EXPECT_EQ(storage.term(2, &term), StorageError::kCompacted);
  ASSERT_EQ(storage.term(3, &term), StorageError::kOk);
  EXPECT_EQ(term, 3u);
  ASSERT_EQ(storage.term(5, &term), StorageError::kOk);
  EXPECT_EQ(term, 5u);
  EXPECT_EQ(storage.term(6, &term), StorageError::kUnavailable);
}

TEST(MemoryStorage, EntriesRefusesCompactedAndUnavailableRanges) {
  MemoryStorage storage = storage_with_terms({1, 1, 1, 1, 1});
  ASSERT_TRUE(storage.create_snapshot(2, ConfState{{1}, {}}, ""));
  std::vector<Entry> out;
  EXPECT_EQ(storage.entries(2, 4, UINT64_MAX, &out), StorageError::kCompacted);
  EXPECT_EQ(storage.entries(3, 7, UINT64_MAX, &out),
            StorageError::kUnavailable);
  EXPECT_TRUE(out.empty());
  ASSERT_EQ(storage.entries(3, 6, UINT64_MAX, &out), StorageError::kOk);
  EXPECT_EQ(indexes(out), (std::vector<Index>{3, 4, 5}));
}

TEST(MemoryStorage, EntriesStopsAtMaxBytesButReturnsAtLeastOne) {
  MemoryStorage storage = storage_with_terms({1, 1, 1, 1});
  std::vector<Entry> out;
  ASSERT_EQ(storage.entries(1, 5, 25, &out), StorageError::kOk);
  EXPECT_EQ(indexes(out), (std::vector<Index>{1, 2}));
  out.clear();
  ASSERT_EQ(storage.entries(1, 5, 30, &out), StorageError::kOk);
  EXPECT_EQ(indexes(out), (std::vector<Index>{1, 2, 3}));
  out.clear();
  ASSERT_EQ(storage.entries(2, 5, 0, &out), StorageError::kOk);
  EXPECT_EQ(indexes(out), (std::vector<Index>{2}));
}

TEST(MemoryStorage, EntriesAppendsToOutput) {
  MemoryStorage storage = storage_with_terms({1, 1});
  std::vector<Entry> out{make_entry(7, 7)};
  ASSERT_EQ(storage.entries(1, 3, UINT64_MAX, &out), StorageError::kOk);
  EXPECT_EQ(indexes(out), (std::vector<Index>{7, 1, 2}));
}

TEST(MemoryStorage, AppendReplacesEverythingFromTheFirstNewIndex) {
  MemoryStorage storage = storage_with_terms({1, 1, 1, 1});
  storage.append({make_entry(3, 2), make_entry(4, 2), make_entry(5, 2)});
  EXPECT_EQ(storage.last_index(), 5u);
  storage.append({make_entry(2, 3)});
  EXPECT_EQ(storage.last_index(), 2u);
  Term term = 0;
  ASSERT_EQ(storage.term(2, &term), StorageError::kOk);
  EXPECT_EQ(term, 3u);
  ASSERT_EQ(storage.term(1, &term), StorageError::kOk);
  EXPECT_EQ(term, 1u);
}

TEST(MemoryStorage, AppendIgnoresEntriesAlreadyCoveredBySnapshot) {
  MemoryStorage storage = storage_with_terms({1, 1, 2, 2});
  ASSERT_TRUE(storage.create_snapshot(3, ConfState{{1}, {}}, ""));
  storage.append({make_entry(1, 1), make_entry(2, 1)});
  EXPECT_EQ(storage.first_index(), 4u);
  EXPECT_EQ(storage.last_index(), 4u);
  storage.append(
      {make_entry(2, 1), make_entry(3, 2), make_entry(4, 3), make_entry(5, 3)});
  EXPECT_EQ(storage.first_index(), 4u);
  EXPECT_EQ(storage.last_index(), 5u);
  Term term = 0;
  ASSERT_EQ(storage.term(4, &term), StorageError::kOk);
  EXPECT_EQ(term, 3u);
}

TEST(MemoryStorage, AppendWithEmptyBatchChangesNothing) {
  MemoryStorage storage = storage_with_terms({1, 1});
  storage.append({});
  EXPECT_EQ(storage.last_index(), 2u);
}

TEST(MemoryStorageDeathTest, AppendLeavingAGapAborts) {
  MemoryStorage storage = storage_with_terms({1, 1});
  EXPECT_DEATH(storage.append({make_entry(4, 1)}), "");
}

TEST(MemoryStorage, ApplySnapshotReplacesTheWholeLog) {
  MemoryStorage storage = storage_with_terms({1, 1, 1});
  Snapshot snapshot{SnapshotMeta{10, 4, ConfState{{1, 2}, {3}}}, "data"};
  ASSERT_TRUE(storage.apply_snapshot(snapshot));
  EXPECT_EQ(storage.snapshot(), snapshot);
  EXPECT_EQ(storage.first_index(), 11u);
  EXPECT_EQ(storage.last_index(), 10u);
  Term term = 0;
  ASSERT_EQ(storage.term(10, &term), StorageError::kOk);
  EXPECT_EQ(term, 4u);
  EXPECT_EQ(storage.term(3, &term), StorageError::kCompacted);
  EXPECT_EQ(storage.initial_state().conf, (ConfState{{1, 2}, {3}}));
}

TEST(MemoryStorage, ApplySnapshotRefusesOlderOrEqualSnapshot) {
  MemoryStorage storage;
  Snapshot newer{SnapshotMeta{10, 4, ConfState{{1}, {}}}, "new"};
  ASSERT_TRUE(storage.apply_snapshot(newer));
  EXPECT_FALSE(storage.apply_snapshot(
      Snapshot{SnapshotMeta{10, 4, ConfState{{2}, {}}}, "same index"}));
  EXPECT_FALSE(storage.apply_snapshot(
      Snapshot{SnapshotMeta{9, 5, ConfState{{2}, {}}}, "older"}));
  EXPECT_EQ(storage.snapshot(), newer);
}

TEST(MemoryStorage, CreateSnapshotKeepsEntriesAfterItsIndex) {
  MemoryStorage storage = storage_with_terms({1, 2, 3, 4});
  ASSERT_TRUE(storage.create_snapshot(2, ConfState{{1, 2}, {}}, "s"));
  EXPECT_EQ(storage.snapshot().meta,
            (SnapshotMeta{2, 2, ConfState{{1, 2}, {}}}));
  EXPECT_EQ(storage.snapshot().data, "s");
  EXPECT_EQ(storage.first_index(), 3u);
  EXPECT_EQ(storage.last_index(), 4u);
  std::vector<Entry> out;
  ASSERT_EQ(storage.entries(3, 5, UINT64_MAX, &out), StorageError::kOk);
  EXPECT_EQ(out, (std::vector<Entry>{make_entry(3, 3, std::string(10, 'x')),
                                     make_entry(4, 4, std::string(10, 'x'))}));
}

TEST(MemoryStorage, CreateSnapshotOfTheLastEntryEmptiesTheLog) {
  MemoryStorage storage = storage_with_terms({1, 2});
  ASSERT_TRUE(storage.create_snapshot(2, ConfState{{1}, {}}, ""));
  EXPECT_EQ(storage.first_index(), 3u);
  EXPECT_EQ(storage.last_index(), 2u);
  storage.append({make_entry(3, 2)});
  EXPECT_EQ(storage.last_index(), 3u);
}

TEST(MemoryStorage, CreateSnapshotRefusesOldOrUnheldIndex) {
  MemoryStorage storage = storage_with_terms({1, 1, 1});
  EXPECT_FALSE(storage.create_snapshot(4, ConfState{{1}, {}}, ""));
  EXPECT_FALSE(storage.create_snapshot(0, ConfState{{1}, {}}, ""));
  ASSERT_TRUE(storage.create_snapshot(2, ConfState{{1}, {}}, ""));
  EXPECT_FALSE(storage.create_snapshot(2, ConfState{{1}, {}}, ""));
  EXPECT_FALSE(storage.create_snapshot(1, ConfState{{1}, {}}, ""));
  EXPECT_EQ(storage.snapshot().meta.index, 2u);
}

}  // namespace
}  // namespace dengine::raft
