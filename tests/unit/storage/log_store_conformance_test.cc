// Runs the conformance suites of lib/testkit/log_store_suite.h against every
// LogStore and HardStateStore implementation.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include "scratch_dir.h"
#include "storage/file_system.h"
#include "storage/hard_state_store.h"
#include "storage/rocksdb_log_store.h"
#include "storage/wal_log_store.h"
#include "testkit/log_store_suite.h"

namespace dengine::storage {
namespace {

using testkit::HardStateStoreFactory;
using testkit::LogStoreFactory;

// A LogStoreFactory from a function of the store's directory.
class DirLogStoreFactory final : public LogStoreFactory {
 public:
  using OpenFn =
      std::function<Status(const std::string&, std::unique_ptr<LogStore>*)>;
  DirLogStoreFactory(std::string dir, OpenFn open)
      : dir_(std::move(dir)), open_(std::move(open)) {}
  Status open(std::unique_ptr<LogStore>* out) override {
    return open_(dir_, out);
  }

 private:
  std::string dir_;
  OpenFn open_;
};

struct LogStoreKind {
  std::string name;
  DirLogStoreFactory::OpenFn open;
};

std::vector<LogStoreKind> log_store_kinds() {
  return {
      {"rocksdb",
       [](const std::string& dir, std::unique_ptr<LogStore>* out) {
         RocksDbLogOptions options;
         options.path = dir + "/rocksdb";
         return open_rocksdb_log_store(options, out);
       }},
      {"wal",
       [](const std::string& dir, std::unique_ptr<LogStore>* out) {
         WalOptions options;
         options.dir = dir + "/wal";
         return open_wal_log_store(posix_file_system(), options, out);
       }},
      // Small segments and no cache: reads come from disk and the log spans
      // many segments.
      {"wal_small_segments_no_cache",
       [](const std::string& dir, std::unique_ptr<LogStore>* out) {
         WalOptions options;
         options.dir = dir + "/wal";
         options.segment_bytes = 64 << 10;
         options.cache_bytes = 0;
         return open_wal_log_store(posix_file_system(), options, out);
       }},
  };
}

class LogStoreConformanceTest
    : public ::testing::TestWithParam<std::tuple<size_t, size_t>> {};

TEST_P(LogStoreConformanceTest, Passes) {
  const auto [kind_index, case_index] = GetParam();
  const LogStoreKind kind = log_store_kinds()[kind_index];
  const testkit::LogStoreCase test_case =
      testkit::log_store_cases()[case_index];
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  DirLogStoreFactory factory(dir.path(), kind.open);
  EXPECT_EQ(test_case.run(factory), "");
}

INSTANTIATE_TEST_SUITE_P(
    AllStores, LogStoreConformanceTest,
    ::testing::Combine(
        ::testing::Range<size_t>(0, log_store_kinds().size()),
        ::testing::Range<size_t>(0, testkit::log_store_cases().size())),
    [](const ::testing::TestParamInfo<std::tuple<size_t, size_t>>& info) {
      return log_store_kinds()[std::get<0>(info.param)].name + "_" +
             testkit::log_store_cases()[std::get<1>(info.param)].name;
    });

class DirHardStateStoreFactory final : public HardStateStoreFactory {
 public:
  using OpenFn = std::function<Status(const std::string&,
                                      std::unique_ptr<HardStateStore>*)>;
  DirHardStateStoreFactory(std::string dir, OpenFn open)
      : dir_(std::move(dir)), open_(std::move(open)) {}
  Status open(std::unique_ptr<HardStateStore>* out) override {
    return open_(dir_, out);
  }

 private:
  std::string dir_;
  OpenFn open_;
};

struct HardStateStoreKind {
  std::string name;
  DirHardStateStoreFactory::OpenFn open;
};

std::vector<HardStateStoreKind> hard_state_store_kinds() {
  return {
      {"file",
       [](const std::string& dir, std::unique_ptr<HardStateStore>* out) {
         return open_file_hard_state_store(posix_file_system(), dir + "/hs",
                                           out);
       }},
      {"rocksdb",
       [](const std::string& dir, std::unique_ptr<HardStateStore>* out) {
         RocksDbLogOptions options;
         options.path = dir + "/rocksdb";
         std::unique_ptr<LogStore> log;
         return open_rocksdb_stores(options, &log, out);
       }},
  };
}

class HardStateStoreConformanceTest
    : public ::testing::TestWithParam<std::tuple<size_t, size_t>> {};

TEST_P(HardStateStoreConformanceTest, Passes) {
  const auto [kind_index, case_index] = GetParam();
  const HardStateStoreKind kind = hard_state_store_kinds()[kind_index];
  const testkit::HardStateStoreCase test_case =
      testkit::hard_state_store_cases()[case_index];
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  DirHardStateStoreFactory factory(dir.path(), kind.open);
  EXPECT_EQ(test_case.run(factory), "");
}

INSTANTIATE_TEST_SUITE_P(
    AllStores, HardStateStoreConformanceTest,
    ::testing::Combine(
        ::testing::Range<size_t>(0, hard_state_store_kinds().size()),
        ::testing::Range<size_t>(0, testkit::hard_state_store_cases().size())),
    [](const ::testing::TestParamInfo<std::tuple<size_t, size_t>>& info) {
      return hard_state_store_kinds()[std::get<0>(info.param)].name + "_" +
             testkit::hard_state_store_cases()[std::get<1>(info.param)].name;
    });

}  // namespace
}  // namespace dengine::storage
