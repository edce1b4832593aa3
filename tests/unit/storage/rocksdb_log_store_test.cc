// RocksDB-specific behaviour of the RocksDB log store (the LogStore contract
// itself is checked by log_store_conformance_test.cc): the shared database
// with the hard-state store, and damage on disk reported as corruption.
#include "storage/rocksdb_log_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

namespace dengine::storage {
namespace {

namespace fs = std::filesystem;

std::vector<raft::Entry> make_entries(raft::Index first, raft::Index last,
                                      size_t size) {
  std::vector<raft::Entry> entries;
  for (raft::Index i = first; i <= last; ++i) {
    entries.push_back(
        raft::Entry{1, i, raft::EntryType::kNormal,
                    std::string(size, static_cast<char>('a' + i % 26))});
  }
  return entries;
}

class RocksDbLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "dengine-rocksdb-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    options_.path = root_ + "/db";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // The largest file in the database whose name ends with `suffix`.
  std::string largest_file(const std::string& suffix) {
    std::string best;
    uintmax_t best_size = 0;
    for (const auto& entry : fs::directory_iterator(options_.path)) {
      const std::string name = entry.path().string();
      if (name.size() >= suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) ==
              0 &&
          entry.file_size() > best_size) {
        best = name;
        best_size = entry.file_size();
      }
    }
    return best;
  }

  static void flip_byte(const std::string& path, uintmax_t offset) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    file.get(c);
    file.seekp(static_cast<std::streamoff>(offset));
    file.put(static_cast<char>(c ^ 0x5a));
  }

  std::string root_;
  RocksDbLogOptions options_;
};

TEST_F(RocksDbLogStoreTest, LogAndHardStateShareOneDatabase) {
  std::unique_ptr<LogStore> log;
  std::unique_ptr<HardStateStore> hard_state;
  ASSERT_TRUE(open_rocksdb_stores(options_, &log, &hard_state).is_ok());
  ASSERT_TRUE(log->append(make_entries(1, 10, 16)).is_ok());
  ASSERT_TRUE(hard_state->save({3, 1, 10}).is_ok());
  // The synced save covered the log writes; sync() still reports them.
  ASSERT_TRUE(log->sync().is_ok());
  EXPECT_EQ(log->durable_index(), 10u);
  // Resetting the log leaves the hard state alone.
  ASSERT_TRUE(log->reset(20, 3).is_ok());
  log.reset();
  hard_state.reset();

  ASSERT_TRUE(open_rocksdb_stores(options_, &log, &hard_state).is_ok());
  raft::HardState state;
  ASSERT_TRUE(hard_state->load(&state).is_ok());
  EXPECT_EQ(state, (raft::HardState{3, 1, 10}));
  EXPECT_EQ(log->first_index(), 21u);
  EXPECT_EQ(log->last_index(), 20u);
}

TEST_F(RocksDbLogStoreTest, HardStateStoreOutlivesAClosedLog) {
  std::unique_ptr<LogStore> log;
  std::unique_ptr<HardStateStore> hard_state;
  ASSERT_TRUE(open_rocksdb_stores(options_, &log, &hard_state).is_ok());
  ASSERT_TRUE(log->close().is_ok());
  ASSERT_TRUE(hard_state->save({1, 0, 0}).is_ok());
  raft::HardState state;
  ASSERT_TRUE(hard_state->load(&state).is_ok());
  EXPECT_EQ(state, (raft::HardState{1, 0, 0}));
}

TEST_F(RocksDbLogStoreTest, OpenCreatesMissingParents) {
  options_.path = root_ + "/a/b/c";
  std::unique_ptr<LogStore> log;
  ASSERT_TRUE(open_rocksdb_log_store(options_, &log).is_ok());
  EXPECT_EQ(log->last_index(), 0u);
}

TEST_F(RocksDbLogStoreTest, OpenFailsClearlyOnABadPath) {
  std::ofstream(root_ + "/file") << "not a directory";
  options_.path = root_ + "/file";
  std::unique_ptr<LogStore> log;
  const Status s = open_rocksdb_log_store(options_, &log);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(root_ + "/file"), std::string::npos)
      << s.message();
  options_.path = "";
  EXPECT_EQ(open_rocksdb_log_store(options_, &log).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(RocksDbLogStoreTest, SecondOpenOfTheSameDatabaseIsRefused) {
  std::unique_ptr<LogStore> first;
  ASSERT_TRUE(open_rocksdb_log_store(options_, &first).is_ok());
  std::unique_ptr<LogStore> second;
  EXPECT_FALSE(open_rocksdb_log_store(options_, &second).is_ok());
}

// A damaged WAL record before the tail refuses the open: the records after it
// are never dropped silently.
TEST_F(RocksDbLogStoreTest, DamagedWalRecordIsCorruption) {
  {
    std::unique_ptr<LogStore> log;
    ASSERT_TRUE(open_rocksdb_log_store(options_, &log).is_ok());
    for (raft::Index i = 1; i <= 100; ++i) {
      ASSERT_TRUE(log->append(make_entries(i, i, 100)).is_ok());
    }
    ASSERT_TRUE(log->close().is_ok());
  }
  const std::string wal = largest_file(".log");
  ASSERT_FALSE(wal.empty());
  flip_byte(wal, fs::file_size(wal) / 3);
  std::unique_ptr<LogStore> log;
  const Status s = open_rocksdb_log_store(options_, &log);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
}

// Damage inside a table file surfaces as kCorruption on open or on read,
// never as wrong entries.
TEST_F(RocksDbLogStoreTest, DamagedTableFileIsCorruption) {
  options_.write_buffer_bytes = 64 << 10;
  {
    std::unique_ptr<LogStore> log;
    ASSERT_TRUE(open_rocksdb_log_store(options_, &log).is_ok());
    for (raft::Index i = 1; i <= 2000; i += 100) {
      ASSERT_TRUE(log->append(make_entries(i, i + 99, 200)).is_ok());
    }
    ASSERT_TRUE(log->close().is_ok());
  }
  const std::string table = largest_file(".sst");
  ASSERT_FALSE(table.empty());
  flip_byte(table, fs::file_size(table) / 3);
  std::unique_ptr<LogStore> log;
  Status s = open_rocksdb_log_store(options_, &log);
  if (s.is_ok()) {
    std::vector<raft::Entry> out;
    s = log->entries(log->first_index(), log->last_index() + 1, UINT64_MAX,
                     &out);
  }
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
}

}  // namespace
}  // namespace dengine::storage
