// Simulated power losses at every point of a DurableStorage write, over the
// WAL and the file hard-state store on the fault-injecting file system.
//
// What is guaranteed, and checked after every crash point: every entry at or
// below the reopened commit index is one the writes put there (a commit index
// never comes back over entries it did not cover), the hard state is the old
// or the new one, and once the write returned everything it wrote is there.
//
// RocksDB cannot run on the fault-injecting file system (the RocksDB stores
// take no Env), so tests/unit/storage/raft_storage_test.cc checks the same
// order on every backend by tracing the calls DurableStorage makes.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"
#include "storage/hard_state_store.h"
#include "storage/raft_storage.h"
#include "storage/wal_log_store.h"
#include "testkit/faulty_file_system.h"

namespace dengine::crash {
namespace {

using raft::Entry;
using raft::HardState;
using raft::Index;
using raft::Term;
using storage::DurableStorage;
using storage::Status;
using testkit::CrashMode;
using testkit::FaultyFileSystem;

// Torn writes keep a random prefix of the unsynced writes: a few seeds per
// crash point cover short and long prefixes.
constexpr uint64_t kSeedsPerPoint = 16;

Status open_storage(FaultyFileSystem* fs,
                    std::unique_ptr<DurableStorage>* out) {
  storage::WalOptions options;
  options.dir = "/data/wal";
  options.segment_bytes = 4096;
  std::unique_ptr<storage::LogStore> log;
  Status s = storage::open_wal_log_store(fs, options, &log);
  if (!s) return s;
  std::unique_ptr<storage::HardStateStore> hard_state;
  s = storage::open_file_hard_state_store(fs, "/data/hs", &hard_state);
  if (!s) return s;
  return DurableStorage::open(std::move(log), std::move(hard_state), {}, out);
}

std::vector<Entry> entries(Index first, Index last, Term term) {
  std::vector<Entry> out;
  for (Index i = first; i <= last; ++i) {
    out.push_back(Entry{term, i, raft::EntryType::kNormal,
                        std::to_string(i) + "/" + std::to_string(term)});
  }
  return out;
}

raft::Ready ready_with(std::vector<Entry> entries,
                       std::optional<HardState> hard_state, bool must_sync) {
  raft::Ready rd;
  rd.entries = std::move(entries);
  rd.hard_state = hard_state;
  rd.must_sync = must_sync;
  return rd;
}

// The entries at or below the commit index, each checked by `expected_term`.
void expect_committed_entries(const DurableStorage& storage,
                              const std::function<Term(Index)>& expected_term) {
  const Index commit = storage.initial_state().hard_state.commit;
  ASSERT_LE(commit, storage.last_index());
  for (Index i = storage.first_index(); i <= commit; ++i) {
    Term term = 0;
    ASSERT_EQ(storage.term(i, &term), raft::StorageError::kOk) << "index " << i;
    EXPECT_EQ(term, expected_term(i))
        << "entry " << i << " at or below the commit index " << commit
        << " is not the one written there";
  }
}

// On a fresh disk: `setup`, then `act` with a power loss at its first
// change, then at its second, ..., then just after it returns; each time the
// storage is reopened and handed to `check` with whether `act` returned ok.
void crash_everywhere(
    CrashMode mode, const std::function<void(DurableStorage*)>& setup,
    const std::function<Status(DurableStorage*)>& act,
    const std::function<void(const DurableStorage&, bool acted)>& check) {
  const uint64_t seeds = mode == CrashMode::kDropUnsynced ? 1 : kSeedsPerPoint;
  bool struck = true;
  for (uint64_t change = 1; struck; ++change) {
    for (uint64_t seed = 0; seed < seeds; ++seed) {
      SCOPED_TRACE("power loss at change " + std::to_string(change) +
                   " of the write, seed " + std::to_string(seed));
      FaultyFileSystem fs;
      std::unique_ptr<DurableStorage> storage;
      Status s = open_storage(&fs, &storage);
      ASSERT_TRUE(s) << s.to_string();
      ASSERT_NO_FATAL_FAILURE(setup(storage.get()));

      fs.crash_at_change(change, seed, mode);
      const bool acted = act(storage.get()).is_ok();
      struck = fs.crash_struck();
      if (struck) {
        fs.restart();
      } else {
        fs.crash(seed, mode);  // the write completed: lose power just after
      }
      storage.reset();  // its files died with the crash
      s = open_storage(&fs, &storage);
      ASSERT_TRUE(s) << s.to_string();
      ASSERT_NO_FATAL_FAILURE(check(*storage, acted));
    }
  }
}

class DurableStorageCrashTest : public ::testing::TestWithParam<CrashMode> {};

// A follower's log holds entries 1..10 of term 2, committed up to 5; the
// leader of term 3 overwrites 6..8 and tells it the commit index is 8.
TEST_P(DurableStorageCrashTest, CommitNeverCoversEntriesItDidNotCommit) {
  const HardState before{2, 1, 5};
  const HardState after{3, 2, 8};
  crash_everywhere(
      GetParam(),
      [&](DurableStorage* storage) {
        ASSERT_TRUE(
            storage->persist(ready_with(entries(1, 10, 2), before, true)));
      },
      [&](DurableStorage* storage) {
        return storage->persist(ready_with(entries(6, 8, 3), after, true));
      },
      [&](const DurableStorage& storage, bool acted) {
        const HardState hs = storage.initial_state().hard_state;
        EXPECT_TRUE(hs == before || hs == after)
            << "hard state " << hs.term << "/" << hs.vote << "/" << hs.commit;
        ASSERT_NO_FATAL_FAILURE(expect_committed_entries(
            storage, [](Index i) { return i <= 5 ? Term{2} : Term{3}; }));
        if (acted) {
          EXPECT_EQ(hs, after);
          EXPECT_EQ(storage.last_index(), Index{8});
        }
      });
}

// close() saves the volatile commit index: only after the entries it covers
// are durable, here written by a Ready the host chose not to sync.
TEST_P(DurableStorageCrashTest, CloseSavesTheCommitOnlyOverADurableLog) {
  crash_everywhere(
      GetParam(),
      [](DurableStorage* storage) {
        ASSERT_TRUE(storage->persist(
            ready_with(entries(1, 10, 2), HardState{2, 1, 5}, true)));
        ASSERT_TRUE(storage->persist(
            ready_with(entries(6, 8, 3), HardState{2, 1, 8}, false)));
      },
      [](DurableStorage* storage) { return storage->close(); },
      [](const DurableStorage& storage, bool acted) {
        ASSERT_NO_FATAL_FAILURE(expect_committed_entries(
            storage, [](Index i) { return i <= 5 ? Term{2} : Term{3}; }));
        if (acted) {
          EXPECT_EQ(storage.initial_state().hard_state, (HardState{2, 1, 8}));
        }
      });
}

INSTANTIATE_TEST_SUITE_P(Modes, DurableStorageCrashTest,
                         ::testing::Values(CrashMode::kDropUnsynced,
                                           CrashMode::kTornWrite),
                         [](const auto& info) {
                           return info.param == CrashMode::kDropUnsynced
                                      ? std::string("DropUnsynced")
                                      : std::string("TornWrite");
                         });

}  // namespace
}  // namespace dengine::crash
