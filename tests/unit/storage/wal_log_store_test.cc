// The segmented WAL's own behaviour: segments, recovery of torn tails,
// corruption reports, purge and reset on disk, the entry cache. The generic
// LogStore contract is checked by the conformance suite.
#include "storage/wal_log_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "../base/log_capture.h"
#include "storage/wal_record.h"
#include "testkit/faulty_file_system.h"

namespace dengine::storage {
namespace {

using raft::Entry;
using raft::Index;
using raft::Term;

constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();
constexpr size_t kDataSize = 40;
// Every test entry has kDataSize bytes of data, so its record is this big.
constexpr uint64_t kRecordSize =
    wal::record_size(wal::kEntryPayloadHeader + kDataSize);
const char kFirstSegment[] = "/wal/wal-0000000000000000.log";

std::string data_for(Index index, Term term, size_t size = kDataSize) {
  std::string data = "e" + std::to_string(index) + "t" + std::to_string(term);
  data.resize(size, 'x');
  return data;
}

Entry entry(Index index, Term term, size_t size = kDataSize) {
  return {term, index, raft::EntryType::kNormal, data_for(index, term, size)};
}

std::vector<Entry> range(Index lo, Index hi, Term term) {
  std::vector<Entry> out;
  for (Index i = lo; i < hi; ++i) out.push_back(entry(i, term));
  return out;
}

std::vector<Entry> all_entries(const LogStore& log) {
  std::vector<Entry> out;
  const Status s =
      log.entries(log.first_index(), log.last_index() + 1, kAll, &out);
  EXPECT_TRUE(s) << s.to_string();
  return out;
}

class WalLogStoreTest : public ::testing::Test {
 protected:
  Status try_open(std::unique_ptr<LogStore>* out) {
    return open_wal_log_store(&fs_, options_, out);
  }

  std::unique_ptr<LogStore> open() {
    std::unique_ptr<LogStore> log;
    const Status s = try_open(&log);
    EXPECT_TRUE(s) << s.to_string();
    return log;
  }

  void append(LogStore* log, const std::vector<Entry>& entries) {
    const Status s = log->append(entries);
    ASSERT_TRUE(s) << s.to_string();
  }

  void sync(LogStore* log) {
    const Status s = log->sync();
    ASSERT_TRUE(s) << s.to_string();
  }

  void close(std::unique_ptr<LogStore>* log) {
    const Status s = (*log)->close();
    ASSERT_TRUE(s) << s.to_string();
    log->reset();
  }

  std::vector<std::string> segment_files() {
    std::vector<std::string> names, segments;
    EXPECT_TRUE(fs_.list("/wal", &names));
    for (const std::string& name : names) {
      if (name.starts_with("wal-")) segments.push_back(name);
    }
    return segments;
  }

  // Sets the trailer of the record of entry `index` (1-based, in the first
  // segment) back to zero: a write that never finished.
  void tear_record(Index index) {
    const uint64_t trailer = index * kRecordSize - 1;
    ASSERT_TRUE(fs_.overwrite(kFirstSegment, trailer, std::string(1, '\0')));
  }

  void flip_bit(const std::string& path, uint64_t offset, int bit) {
    std::string bytes;
    ASSERT_TRUE(fs_.read_all(path, &bytes));
    ASSERT_LT(offset, bytes.size());
    const char flipped = static_cast<char>(bytes[offset] ^ (1 << bit));
    ASSERT_TRUE(fs_.overwrite(path, offset, std::string(1, flipped)));
  }

  testkit::FaultyFileSystem fs_;
  WalOptions options_{"/wal", 4096, 1 << 20};
};

TEST_F(WalLogStoreTest, NewLogIsEmpty) {
  auto log = open();
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 0u);
  EXPECT_EQ(log->durable_index(), 0u);
  Term term = 99;
  ASSERT_TRUE(log->term(0, &term));
  EXPECT_EQ(term, 0u);
  EXPECT_EQ(segment_files().size(), 2u);  // the active segment and the spare
}

TEST_F(WalLogStoreTest, AppendsRollOverSegmentsAndSurviveReopen) {
  auto log = open();
  std::vector<Entry> expected;
  for (Index lo = 1; lo <= 500; lo += 10) {
    const auto batch = range(lo, lo + 10, lo / 100 + 1);
    append(log.get(), batch);
    sync(log.get());
    expected.insert(expected.end(), batch.begin(), batch.end());
  }
  EXPECT_GE(segment_files().size(), 500 * kRecordSize / 4096);
  EXPECT_EQ(all_entries(*log), expected);
  close(&log);

  log = open();
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 500u);
  EXPECT_EQ(log->durable_index(), 500u);
  EXPECT_EQ(all_entries(*log), expected);
  Term term = 0;
  ASSERT_TRUE(log->term(250, &term));
  EXPECT_EQ(term, 3u);
}

TEST_F(WalLogStoreTest, DurableIndexFollowsSyncs) {
  auto log = open();
  append(log.get(), range(1, 6, 1));
  EXPECT_EQ(log->durable_index(), 0u);
  sync(log.get());
  EXPECT_EQ(log->durable_index(), 5u);
  append(log.get(), range(6, 9, 1));
  EXPECT_EQ(log->durable_index(), 5u);
  ASSERT_TRUE(log->truncate_suffix(4));
  EXPECT_EQ(log->durable_index(), 3u);
  sync(log.get());
  EXPECT_EQ(log->durable_index(), 3u);
}

TEST_F(WalLogStoreTest, UnsyncedEntriesAreLostInACrashSyncedOnesKept) {
  auto log = open();
  append(log.get(), range(1, 11, 1));
  sync(log.get());
  append(log.get(), range(11, 15, 1));
  fs_.crash(1, testkit::CrashMode::kDropUnsynced);
  log.reset();
  log = open();
  EXPECT_EQ(log->last_index(), 10u);
  EXPECT_EQ(all_entries(*log), range(1, 11, 1));
}

TEST_F(WalLogStoreTest, TornTailIsCutAndTheLogStaysWritable) {
  auto log = open();
  append(log.get(), range(1, 13, 1));
  close(&log);
  tear_record(12);

  log = open();
  EXPECT_EQ(log->last_index(), 11u);
  EXPECT_EQ(all_entries(*log), range(1, 12, 1));
  // A shorter entry where the torn one was: no byte of the old one may
  // survive behind it.
  const std::vector<Entry> tail = {entry(12, 2, 5), entry(13, 2, 5)};
  append(log.get(), tail);
  close(&log);

  log = open();
  auto expected = range(1, 12, 1);
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_EQ(all_entries(*log), expected);
}

TEST_F(WalLogStoreTest, CuttingATornTailIsLoggedWithWhereAndWhy) {
  auto log = open();
  append(log.get(), range(1, 13, 1));
  close(&log);
  tear_record(12);

  base::LogCapture capture;
  log = open();
  EXPECT_EQ(log->last_index(), 11u);
  const std::vector<std::string> cut = capture.find(
      DENGINE_LOG_WARN, {"torn tail", kFirstSegment,
                         "offset " + std::to_string(11 * kRecordSize)});
  EXPECT_EQ(cut.size(), 1u) << "no line, or more than one, for the cut";
}

TEST_F(WalLogStoreTest, AReopenWithNothingToRepairLogsNoRecovery) {
  auto log = open();
  append(log.get(), range(1, 13, 1));
  close(&log);

  base::LogCapture capture;
  log = open();
  EXPECT_EQ(log->last_index(), 12u);
  for (const base::LogCapture::Line& line : capture.lines()) {
    ADD_FAILURE() << "unexpected log line: " << line.message;
  }
}

TEST_F(WalLogStoreTest, IncompleteRecordBeforeSyncedRecordsIsCorruption) {
  auto log = open();
  append(log.get(), range(1, 4, 1));
  sync(log.get());
  append(log.get(), range(4, 7, 1));  // records 4..6 say 1..3 were synced
  close(&log);
  tear_record(2);

  std::unique_ptr<LogStore> reopened;
  const Status s = try_open(&reopened);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find(kFirstSegment), std::string::npos);
  EXPECT_NE(s.message().find("offset " + std::to_string(kRecordSize)),
            std::string::npos)
      << s.message();
}

TEST_F(WalLogStoreTest, IncompleteRecordBeforeUnsyncedRecordsIsATornTail) {
  auto log = open();
  append(log.get(), range(1, 4, 1));
  sync(log.get());
  // Written in one go, unsynced: after a crash any of them may be missing
  // while a later one reached the disk.
  append(log.get(), range(4, 7, 1));
  close(&log);
  tear_record(4);

  log = open();
  EXPECT_EQ(all_entries(*log), range(1, 4, 1));
}

TEST_F(WalLogStoreTest, DamagedRecordIsCorruptionEvenAtTheTail) {
  auto log = open();
  append(log.get(), range(1, 6, 1));
  close(&log);
  flip_bit(kFirstSegment, 4 * kRecordSize + 30, 3);  // in entry 5's payload

  std::unique_ptr<LogStore> reopened;
  const Status s = try_open(&reopened);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("offset " + std::to_string(4 * kRecordSize)),
            std::string::npos)
      << s.message();
}

TEST_F(WalLogStoreTest, DamagedRecordInTheMiddleIsCorruption) {
  auto log = open();
  append(log.get(), range(1, 20, 1));
  close(&log);
  flip_bit(kFirstSegment, kRecordSize + 5, 0);  // entry 2's header

  std::unique_ptr<LogStore> reopened;
  const Status s = try_open(&reopened);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("offset " + std::to_string(kRecordSize)),
            std::string::npos)
      << s.message();
}

TEST_F(WalLogStoreTest, DamageInASealedSegmentIsCorruption) {
  auto log = open();
  append(log.get(), range(1, 200, 1));
  close(&log);
  ASSERT_GE(segment_files().size(), 3u);
  // The last entry record of the first segment, then its seal.
  std::string bytes;
  ASSERT_TRUE(fs_.read_all(kFirstSegment, &bytes));
  const uint64_t entries_in_segment = (4096 - 32) / kRecordSize;
  flip_bit(kFirstSegment, (entries_in_segment - 1) * kRecordSize + 40, 6);

  std::unique_ptr<LogStore> reopened;
  Status s = try_open(&reopened);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find(kFirstSegment), std::string::npos);
}

TEST_F(WalLogStoreTest, LostSealOfAFullSegmentIsCorruption) {
  auto log = open();
  append(log.get(), range(1, 200, 1));
  close(&log);
  const uint64_t entries_in_segment = (4096 - 32) / kRecordSize;
  const uint64_t seal = entries_in_segment * kRecordSize;
  ASSERT_TRUE(fs_.overwrite(kFirstSegment, seal + 31, std::string(1, '\0')));

  std::unique_ptr<LogStore> reopened;
  const Status s = try_open(&reopened);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("without a seal"), std::string::npos)
      << s.message();
}

TEST_F(WalLogStoreTest, TruncateSuffixSurvivesReopen) {
  auto log = open();
  append(log.get(), range(1, 101, 1));
  ASSERT_TRUE(log->truncate_suffix(60));
  EXPECT_EQ(log->last_index(), 59u);
  sync(log.get());
  close(&log);

  log = open();
  EXPECT_EQ(log->last_index(), 59u);
  append(log.get(), range(60, 81, 2));
  close(&log);

  log = open();
  auto expected = range(1, 60, 1);
  const auto second = range(60, 81, 2);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(all_entries(*log), expected);
}

TEST_F(WalLogStoreTest, ConflictingAppendReplacesTheTail) {
  auto log = open();
  append(log.get(), range(1, 11, 1));
  append(log.get(), range(5, 8, 2));
  EXPECT_EQ(log->last_index(), 7u);
  close(&log);

  log = open();
  auto expected = range(1, 5, 1);
  const auto second = range(5, 8, 2);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(all_entries(*log), expected);
}

TEST_F(WalLogStoreTest, PurgeDeletesWholeSegmentsAndSurvivesReopen) {
  auto log = open();
  append(log.get(), range(1, 301, 1));
  append(log.get(), range(301, 501, 2));
  sync(log.get());
  const size_t before = segment_files().size();
  ASSERT_TRUE(log->purge_prefix(300));
  EXPECT_EQ(log->first_index(), 301u);
  EXPECT_LT(segment_files().size(), before - 3);
  EXPECT_FALSE(fs_.exists(kFirstSegment));
  Term term = 0;
  ASSERT_TRUE(log->term(300, &term));
  EXPECT_EQ(term, 1u);
  EXPECT_EQ(log->term(299, &term).code(), StatusCode::kCompacted);
  std::vector<Entry> out;
  EXPECT_EQ(log->entries(300, 302, kAll, &out).code(), StatusCode::kCompacted);
  close(&log);

  log = open();
  EXPECT_EQ(log->first_index(), 301u);
  EXPECT_EQ(log->last_index(), 500u);
  ASSERT_TRUE(log->term(300, &term));
  EXPECT_EQ(term, 1u);
  EXPECT_EQ(all_entries(*log), range(301, 501, 2));
}

TEST_F(WalLogStoreTest, PurgingEverythingLeavesAnEmptyLogAfterThePurgePoint) {
  auto log = open();
  append(log.get(), range(1, 101, 4));
  ASSERT_TRUE(log->purge_prefix(100));
  close(&log);

  log = open();
  EXPECT_EQ(log->first_index(), 101u);
  EXPECT_EQ(log->last_index(), 100u);
  Term term = 0;
  ASSERT_TRUE(log->term(100, &term));
  EXPECT_EQ(term, 4u);
  append(log.get(), range(101, 103, 5));
  close(&log);
  log = open();
  EXPECT_EQ(all_entries(*log), range(101, 103, 5));
}

TEST_F(WalLogStoreTest, ResetStartsOverAfterTheGivenPoint) {
  auto log = open();
  append(log.get(), range(1, 101, 1));
  sync(log.get());
  ASSERT_TRUE(log->reset(1000, 7));
  EXPECT_EQ(log->first_index(), 1001u);
  EXPECT_EQ(log->last_index(), 1000u);
  EXPECT_EQ(log->durable_index(), 1000u);
  EXPECT_EQ(segment_files().size(), 2u);
  close(&log);

  log = open();
  EXPECT_EQ(log->first_index(), 1001u);
  EXPECT_EQ(log->last_index(), 1000u);
  Term term = 0;
  ASSERT_TRUE(log->term(1000, &term));
  EXPECT_EQ(term, 7u);
  append(log.get(), range(1001, 1011, 8));
  close(&log);
  log = open();
  EXPECT_EQ(all_entries(*log), range(1001, 1011, 8));
}

TEST_F(WalLogStoreTest, DamagedMetaFileIsCorruption) {
  auto log = open();
  append(log.get(), range(1, 11, 1));
  ASSERT_TRUE(log->purge_prefix(5));
  close(&log);
  flip_bit("/wal/wal.meta", 13, 1);
  std::unique_ptr<LogStore> reopened;
  const Status s = try_open(&reopened);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("wal.meta"), std::string::npos);
}

TEST_F(WalLogStoreTest, ReadsGoToDiskWhenTheCacheIsSmall) {
  for (uint64_t cache_bytes : {uint64_t{0}, uint64_t{1000}}) {
    options_.dir = "/wal" + std::to_string(cache_bytes);
    options_.cache_bytes = cache_bytes;
    auto log = open();
    const auto expected = range(1, 301, 3);
    append(log.get(), expected);
    EXPECT_EQ(all_entries(*log), expected);
    // max_bytes counts data bytes; the first entry is always returned.
    std::vector<Entry> out;
    ASSERT_TRUE(log->entries(10, 300, 3 * kDataSize, &out));
    EXPECT_EQ(out, range(10, 13, 3));
    out.clear();
    ASSERT_TRUE(log->entries(290, 301, 0, &out));
    EXPECT_EQ(out, range(290, 291, 3));
    close(&log);
    log = open();
    EXPECT_EQ(all_entries(*log), expected);
  }
}

TEST_F(WalLogStoreTest, EntriesLargerThanASegmentGetOneOfTheirOwn) {
  auto log = open();
  const std::vector<Entry> entries = {entry(1, 1), entry(2, 1, 10000),
                                      entry(3, 1), entry(4, 1, 9000)};
  append(log.get(), entries);
  close(&log);
  log = open();
  EXPECT_EQ(all_entries(*log), entries);
}

TEST_F(WalLogStoreTest, RefusesCallsThatBreakThePreconditions) {
  auto log = open();
  append(log.get(), range(1, 11, 1));
  EXPECT_EQ(log->append(range(13, 14, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->append({entry(11, 1), entry(13, 1)}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(log->purge_prefix(11).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(log->purge_prefix(5));
  EXPECT_EQ(log->truncate_suffix(5).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->append(range(5, 6, 1)).code(), StatusCode::kInvalidArgument);
  Term term;
  EXPECT_EQ(log->term(11, &term).code(), StatusCode::kUnavailable);
  std::vector<Entry> out;
  EXPECT_EQ(log->entries(6, 12, kAll, &out).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(log->truncate_suffix(11));  // past the end: nothing to do
  EXPECT_EQ(log->last_index(), 10u);
}

TEST_F(WalLogStoreTest, ClosedLogRefusesEverything) {
  auto log = open();
  append(log.get(), range(1, 3, 1));
  ASSERT_TRUE(log->close());
  EXPECT_EQ(log->close().code(), StatusCode::kClosed);
  EXPECT_EQ(log->append(range(3, 4, 1)).code(), StatusCode::kClosed);
  EXPECT_EQ(log->sync().code(), StatusCode::kClosed);
  Term term;
  EXPECT_EQ(log->term(1, &term).code(), StatusCode::kClosed);
  std::vector<Entry> out;
  EXPECT_EQ(log->entries(1, 2, kAll, &out).code(), StatusCode::kClosed);
}

TEST_F(WalLogStoreTest, ReadersRunBesideTheWriter) {
  options_.cache_bytes = 2000;  // most reads go to disk
  auto log = open();
  append(log.get(), range(1, 2, 1));
  std::atomic<bool> done = false;
  std::atomic<int> failures = 0;
  auto reader = [&](unsigned seed) {
    while (!done) {
      const Index last = log->last_index();
      const Index lo = 1 + (seed = seed * 1103515245 + 12345) % last;
      std::vector<Entry> out;
      if (!log->entries(lo, last + 1, 2000, &out) || out.empty() ||
          out.front() != entry(lo, 1)) {
        ++failures;
      }
    }
  };
  std::thread first(reader, 1), second(reader, 2);
  for (Index lo = 2; lo < 2000; lo += 7) {
    append(log.get(), range(lo, lo + 7, 1));
    if (lo % 5 == 0) sync(log.get());
  }
  done = true;
  first.join();
  second.join();
  EXPECT_EQ(failures, 0);
}

TEST(WalLogStorePosix, WorksOnARealDirectory) {
  char dir_template[] = "/tmp/dengine-wal-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const WalOptions options{dir_template, 8192, 4096};
  std::unique_ptr<LogStore> log;
  ASSERT_TRUE(open_wal_log_store(posix_file_system(), options, &log));
  for (Index lo = 1; lo <= 1000; lo += 100) {
    ASSERT_TRUE(log->append(range(lo, lo + 100, 1)));
    ASSERT_TRUE(log->sync());
  }
  ASSERT_TRUE(log->purge_prefix(400));
  ASSERT_TRUE(log->close());
  log.reset();

  ASSERT_TRUE(open_wal_log_store(posix_file_system(), options, &log));
  EXPECT_EQ(log->first_index(), 401u);
  EXPECT_EQ(log->last_index(), 1000u);
  EXPECT_EQ(all_entries(*log), range(401, 1001, 1));
  ASSERT_TRUE(log->close());
  ASSERT_TRUE(posix_file_system()->remove_all(dir_template));
}

}  // namespace
}  // namespace dengine::storage
