// Simulated power losses: random appends, truncations, purges, resets and
// syncs on the WAL over the fault-injecting file system, a crash, a reopen.
//
// What is guaranteed, and checked for every seed:
//   - drop-unsynced and torn-write crashes: the reopened log is the synced
//     state plus a prefix of the operations since (every synced entry is
//     there, nothing unsynced is invented, nothing has a gap), with every
//     purge and reset since applied (they are durable when they return);
//   - bit-flip crashes: open fails with kCorruption, or the flip hit bytes
//     that hold no data (record padding, an area past the end of the log
//     that was cut or never used) and the log opens to such a state.
// A few flips that escape detection would pass the second clause only if
// they left the data intact, which the state comparison checks, so a
// silently wrong entry always fails the test.
#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "log_model.h"
#include "storage/wal_log_store.h"
#include "testkit/faulty_file_system.h"
#include "testkit/sim_random.h"

namespace dengine::crash {
namespace {

using raft::Entry;
using raft::Index;
using raft::Term;
using storage::LogStore;
using storage::Status;
using storage::StatusCode;
using testkit::CrashMode;

constexpr uint64_t kSeeds = DENGINE_CRASH_SEEDS;
constexpr int kCrashesPerSeed = 3;

std::string data_for(Index index, Term term, size_t size) {
  std::string data = std::to_string(index) + "/" + std::to_string(term) + ":";
  while (data.size() < size) data += static_cast<char>('a' + data.size() % 26);
  data.resize(size);
  return data;
}

Status read_back(const LogStore& log, LogModel* out) {
  out->first = log.first_index();
  out->entries.clear();
  Status s = log.term(out->first - 1, &out->purge_term);
  if (!s) return s;
  return log.entries(out->first, log.last_index() + 1,
                     std::numeric_limits<uint64_t>::max(), &out->entries);
}

// Drives one store through random operations, keeping the model in step.
class Workload {
 public:
  Workload(testkit::SimRandom* random, LogStore* log, LogModel model)
      : random_(random), log_(log), synced_(model), current_(std::move(model)) {
    term_ = current_.entries.empty() ? current_.purge_term
                                     : current_.entries.back().term;
  }

  void step() {
    const uint64_t dice = random_->below(100);
    if (dice < 50) {
      append();
    } else if (dice < 75) {
      ASSERT_TRUE(log_->sync());
      synced_ = current_;
      since_.clear();
    } else if (dice < 85) {
      truncate();
    } else if (dice < 97) {
      purge();
    } else {
      reset();
    }
  }

  const LogModel& synced() const { return synced_; }
  const std::vector<LogOperation>& since() const { return since_; }
  const LogModel& current() const { return current_; }

 private:
  void record(LogOperation op) {
    apply(op, &current_);
    since_.push_back(std::move(op));
  }

  void append() {
    if (random_->chance(0.2)) ++term_;
    // Mostly at the end, sometimes over the last few entries (a conflict).
    Index from = current_.last() + 1;
    if (random_->chance(0.2) && current_.last() >= current_.first) {
      const Index back =
          std::min<Index>(5, current_.last() - current_.first + 1);
      from -= 1 + random_->below(back);
    }
    std::vector<Entry> batch;
    const uint64_t count = 1 + random_->below(16);
    for (Index i = from; i < from + count; ++i) {
      const size_t size = random_->chance(0.05) ? 3000 : random_->below(200);
      batch.push_back(
          {term_, i, raft::EntryType::kNormal, data_for(i, term_, size)});
    }
    const Status s = log_->append(batch);
    ASSERT_TRUE(s) << s.to_string();
    for (const Entry& entry : batch) {
      record({LogOperation::Kind::kAppend, entry, 0, 0});
    }
  }

  void truncate() {
    const Index lo = current_.first;
    const Index index = lo + random_->below(current_.last() + 2 - lo);
    const Status s = log_->truncate_suffix(index);
    ASSERT_TRUE(s) << s.to_string();
    if (index <= current_.last()) {
      record({LogOperation::Kind::kTruncate, {}, index, 0});
    }
  }

  void purge() {
    if (current_.entries.empty()) return;
    const Index index =
        current_.first + random_->below(current_.entries.size());
    const Term term = current_.entries[index - current_.first].term;
    const Status s = log_->purge_prefix(index);
    ASSERT_TRUE(s) << s.to_string();
    record({LogOperation::Kind::kPurge, {}, index, term});
  }

  void reset() {
    const Index index = current_.last() + random_->below(20);
    term_ += random_->below(2);
    const Status s = log_->reset(index, term_);
    ASSERT_TRUE(s) << s.to_string();
    record({LogOperation::Kind::kReset, {}, index, term_});
  }

  testkit::SimRandom* random_;
  LogStore* log_;
  LogModel synced_;
  std::vector<LogOperation> since_;
  LogModel current_;
  Term term_ = 1;
};

struct SeedOutcome {
  bool corruption_detected = false;
};

void run_seed(uint64_t seed, CrashMode mode, SeedOutcome* outcome) {
  testkit::SimRandom random(testkit::mix_seed(seed, 0xC4A5));
  testkit::FaultyFileSystem fs;
  storage::WalOptions options;
  options.dir = "/data/wal";
  options.segment_bytes = random.chance(0.5) ? 4096 : 16384;
  options.cache_bytes = random.pick(std::vector<uint64_t>{0, 2048, 1 << 20});

  LogModel model;
  for (int crash = 0; crash < kCrashesPerSeed; ++crash) {
    std::unique_ptr<LogStore> log;
    Status s = storage::open_wal_log_store(&fs, options, &log);
    ASSERT_TRUE(s) << s.to_string();
    Workload workload(&random, log.get(), model);
    const uint64_t steps = 10 + random.below(60);
    for (uint64_t k = 0; k < steps; ++k) {
      ASSERT_NO_FATAL_FAILURE(workload.step());
    }
    LogModel before;
    ASSERT_TRUE(read_back(*log, &before));
    ASSERT_EQ(before, workload.current()) << "reads disagree before the crash";

    const auto flip = fs.crash(random.next(), mode);
    log.reset();  // its files died with the crash: close fails, syncs nothing
    s = storage::open_wal_log_store(&fs, options, &log);
    if (mode == CrashMode::kBitFlip && s.code() == StatusCode::kCorruption) {
      outcome->corruption_detected = true;
      return;
    }
    ASSERT_TRUE(s) << s.to_string()
                   << (flip ? " after flipping bit " +
                                  std::to_string(flip->bit) + " of " +
                                  flip->path + " at offset " +
                                  std::to_string(flip->offset)
                            : "");
    LogModel recovered;
    s = read_back(*log, &recovered);
    ASSERT_TRUE(s) << s.to_string();
    ASSERT_EQ(log->durable_index(), log->last_index());
    ASSERT_TRUE(crash_may_leave(workload.synced(), workload.since(), recovered))
        << "crash " << crash << " recovered " << describe(recovered)
        << "\nsynced " << describe(workload.synced()) << "\n"
        << workload.since().size() << " operations since, leading to "
        << describe(workload.current());
    model = recovered;
    ASSERT_TRUE(log->close());
  }
}

class WalCrashTest : public ::testing::TestWithParam<CrashMode> {};

TEST_P(WalCrashTest, ReopenKeepsEverySyncedEntryAndInventsNothing) {
  int detected = 0;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed) + ", " +
                 testkit::to_string(GetParam()));
    SeedOutcome outcome;
    run_seed(seed, GetParam(), &outcome);
    if (HasFatalFailure()) return;
    detected += outcome.corruption_detected;
  }
  if (GetParam() == CrashMode::kBitFlip) {
    // Flips land in written bytes, nearly all of them record contents.
    EXPECT_GT(detected, static_cast<int>(kSeeds / 2));
  } else {
    EXPECT_EQ(detected, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, WalCrashTest,
                         ::testing::Values(CrashMode::kDropUnsynced,
                                           CrashMode::kTornWrite,
                                           CrashMode::kBitFlip),
                         [](const auto& info) {
                           switch (info.param) {
                             case CrashMode::kDropUnsynced:
                               return std::string("DropUnsynced");
                             case CrashMode::kTornWrite:
                               return std::string("TornWrite");
                             case CrashMode::kBitFlip:
                               return std::string("BitFlip");
                           }
                           return std::string("Unknown");
                         });

}  // namespace
}  // namespace dengine::crash
