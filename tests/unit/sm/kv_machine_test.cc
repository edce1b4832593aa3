// Both built-in KV machines, through the C vtable: commands, TTL decided by
// entry timestamps, reads, crash recovery, snapshots, reset.
#include "sm/kv_machine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "sm/apply_results.h"
#include "sm/kv_command.h"

namespace dengine::sm {
namespace {

namespace fs = std::filesystem;

// A machine of one backend, opened at a directory, with helpers that speak
// the command and read formats.
class Kv {
 public:
  Kv(const fs::path& dir, int backend) : dir_(dir), backend_(backend) {
    open();
  }
  ~Kv() { close_kv_machine(&m_); }

  void open() {
    std::string error;
    ASSERT_EQ(open_kv_machine(dir_, backend_, &m_, &error), DENGINE_OK)
        << error;
  }
  // Like a crash of the process: no stop, no flush.
  void crash_and_reopen() {
    close_kv_machine(&m_);
    open();
  }
  void stop_and_reopen() {
    ASSERT_EQ(m_.stop(m_.user), DENGINE_OK);
    crash_and_reopen();
  }

  // Applies commands as entries next_index_, next_index_ + 1, ... in one
  // chunk; returns the decoded results.
  std::vector<KvResult> apply(const std::vector<KvCommand>& commands) {
    std::vector<std::string> data;
    for (const KvCommand& c : commands) data.push_back(encode_command(c));
    return apply_raw(next_index_, data);
  }

  std::vector<KvResult> apply_raw(uint64_t first_index,
                                  const std::vector<std::string>& data,
                                  int expected_rc = DENGINE_OK) {
    std::vector<dengine_entry> entries;
    for (size_t i = 0; i < data.size(); ++i) {
      entries.push_back({first_index + i, 1, DENGINE_ENTRY_NORMAL,
                         reinterpret_cast<const uint8_t*>(data[i].data()),
                         data[i].size()});
    }
    dengine_results results;
    results.entries.resize(entries.size());
    EXPECT_EQ(m_.apply_chunk(m_.user, entries.data(), entries.size(), &results),
              expected_rc);
    if (expected_rc != DENGINE_OK) return {};
    next_index_ = std::max(next_index_, first_index + data.size());
    std::vector<KvResult> out(entries.size());
    for (size_t i = 0; i < out.size(); ++i) {
      const auto& e = results.entries[i];
      EXPECT_TRUE(decode_result(
          std::string_view(reinterpret_cast<const char*>(e.data.data()),
                           e.data.size()),
          &out[i]));
      EXPECT_EQ(e.status, static_cast<int32_t>(out[i].code));
    }
    return out;
  }

  KvReadAnswer read(const KvRead& query) {
    const std::string q = encode_read(query);
    dengine_read_result result;
    EXPECT_EQ(m_.read(m_.user, reinterpret_cast<const uint8_t*>(q.data()),
                      q.size(), &result),
              DENGINE_OK);
    KvReadAnswer answer;
    EXPECT_TRUE(decode_read_answer(
        query.type,
        std::string_view(reinterpret_cast<const char*>(result.data.data()),
                         result.data.size()),
        &answer));
    return answer;
  }
  std::optional<std::string> get(const std::string& key) {
    return read(KvRead::get(key)).values.at(0);
  }
  std::vector<std::pair<std::string, std::string>> all() {
    return read(KvRead::scan_prefix("", 1000000)).entries;
  }

  dengine_state_machine& m() { return m_; }
  uint64_t last_applied() { return m_.last_applied(m_.user); }
  uint64_t len() { return m_.len(m_.user); }
  void set_next_index(uint64_t index) { next_index_ = index; }

 private:
  fs::path dir_;
  int backend_;
  dengine_state_machine m_{};
  uint64_t next_index_ = 1;
};

class KvMachineTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) /
            ("kv_machine_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path dir(const std::string& name) { return root_ / name; }
  Kv make(const std::string& name) { return Kv(dir(name), GetParam()); }

  fs::path root_;
};

TEST_P(KvMachineTest, PutGetDelete) {
  Kv kv = make("a");
  auto r =
      kv.apply({KvCommand::put("a", "1").at(1), KvCommand::put("a", "2").at(1),
                KvCommand::put("b", "x").at(1)});
  EXPECT_FALSE(r[0].found);
  EXPECT_TRUE(r[1].found) << "the second put overwrote";
  EXPECT_EQ(kv.get("a"), "2");
  EXPECT_EQ(kv.len(), 2u);
  r = kv.apply({KvCommand::erase("a").at(2), KvCommand::erase("a").at(2)});
  EXPECT_TRUE(r[0].found);
  EXPECT_FALSE(r[1].found);
  EXPECT_EQ(kv.get("a"), std::nullopt);
  EXPECT_EQ(kv.len(), 1u);
  EXPECT_EQ(kv.last_applied(), 5u);
}

TEST_P(KvMachineTest, CompareAndSwapSeesEarlierWritesOfTheSameChunk) {
  Kv kv = make("a");
  auto r = kv.apply({KvCommand::put("k", "v1").at(1),
                     KvCommand::compare_and_swap("k", "v1", "v2").at(1),
                     KvCommand::compare_and_swap("k", "v1", "v3").at(1),
                     KvCommand::create_if_absent("k", "v4").at(1),
                     KvCommand::create_if_absent("n", "first").at(1),
                     KvCommand::erase("n").at(1),
                     KvCommand::create_if_absent("n", "again").at(1)});
  EXPECT_EQ(r[1].code, KvResultCode::kOk);
  EXPECT_EQ(r[1].value, "v2");
  EXPECT_EQ(r[2].code, KvResultCode::kCasFailed);
  EXPECT_TRUE(r[2].found);
  EXPECT_EQ(r[2].value, "v2") << "the failure reports the current value";
  EXPECT_EQ(r[3].code, KvResultCode::kCasFailed);
  EXPECT_EQ(r[4].code, KvResultCode::kOk);
  EXPECT_EQ(r[6].code, KvResultCode::kOk) << "the delete was seen";
  EXPECT_EQ(kv.get("k"), "v2");
  EXPECT_EQ(kv.get("n"), "again");
  EXPECT_EQ(kv.len(), 2u);
}

TEST_P(KvMachineTest, TtlExpiryIsDecidedByEntryTimestamps) {
  const std::vector<KvCommand> commands = {
      KvCommand::put_with_ttl("t", "temp", 100).at(1000),
      KvCommand::put("p", "perm").at(1000), KvCommand::put("x", "1").at(1099),
      KvCommand::tick(1100),
      // A leader with a slower clock cannot bring the key back.
      KvCommand::create_if_absent("t", "new").at(900),
      KvCommand::put_with_ttl("u", "temp", 50).at(1100)};
  // Replica A applies one entry per chunk and is read in between; replica B
  // applies everything in one chunk, later. Wall time plays no part.
  Kv a = make("a");
  a.apply({commands[0], commands[1]});
  EXPECT_EQ(a.get("t"), "temp");
  a.apply({commands[2]});
  EXPECT_EQ(a.get("t"), "temp") << "expires at 1100, the clock is 1099";
  a.apply({commands[3]});
  EXPECT_EQ(a.get("t"), std::nullopt);
  EXPECT_EQ(a.len(), 2u) << "an expired key is not counted";
  auto r = a.apply({commands[4], commands[5]});
  EXPECT_EQ(r[0].code, KvResultCode::kOk) << "an expired key is absent";

  Kv b = make("b");
  b.apply(commands);
  EXPECT_EQ(a.all(), b.all());
  EXPECT_EQ(a.len(), b.len());
  // "u" expires at 1150 on both, whatever the entry chunking.
  a.apply({KvCommand::tick(1150)});
  b.apply({KvCommand::tick(1150)});
  EXPECT_EQ(a.get("u"), std::nullopt);
  EXPECT_EQ(a.all(), b.all());
}

TEST_P(KvMachineTest, TtlExpiryWithinOneChunkAndAfterOverwrite) {
  Kv kv = make("a");
  auto r = kv.apply({KvCommand::put_with_ttl("k", "v", 10).at(100),
                     KvCommand::put_with_ttl("o", "v", 10).at(100),
                     KvCommand::put("o", "forever").at(105),
                     KvCommand::create_if_absent("k", "later").at(110)});
  EXPECT_EQ(r[3].code, KvResultCode::kOk) << "k expired at 110 in this chunk";
  kv.apply({KvCommand::tick(1000)});
  EXPECT_EQ(kv.get("o"), "forever") << "the overwrite dropped the TTL";
  EXPECT_EQ(kv.get("k"), "later");
  EXPECT_EQ(kv.len(), 2u);
}

TEST_P(KvMachineTest, GetMultiAndScanPrefix) {
  Kv kv = make("a");
  kv.apply({KvCommand::put("a1", "1").at(1), KvCommand::put("a2", "2").at(1),
            KvCommand::put("a3", "3").at(1), KvCommand::put("b1", "4").at(1)});
  KvReadAnswer multi = kv.read(KvRead::get_multi({"a1", "zz", "b1"}));
  EXPECT_EQ(multi.values,
            (std::vector<std::optional<std::string>>{"1", std::nullopt, "4"}));
  KvReadAnswer scan = kv.read(KvRead::scan_prefix("a", 2));
  EXPECT_EQ(scan.entries, (std::vector<std::pair<std::string, std::string>>{
                              {"a1", "1"}, {"a2", "2"}}));
  EXPECT_TRUE(scan.more);
  scan = kv.read(KvRead::scan_prefix("a", 3));
  EXPECT_EQ(scan.entries.size(), 3u);
  EXPECT_FALSE(scan.more);
  EXPECT_TRUE(kv.read(KvRead::scan_prefix("c", 5)).entries.empty());
}

TEST_P(KvMachineTest, GetMultiIsOneConsistentViewDuringApply) {
  Kv kv = make("a");
  kv.apply({KvCommand::put("x", "0").at(1), KvCommand::put("y", "0").at(1)});
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 1; i <= 300; ++i) {
      kv.apply({KvCommand::put("x", std::to_string(i)).at(1),
                KvCommand::put("y", std::to_string(i)).at(1)});
    }
    done = true;
  });
  int reads = 0;
  while (!done || reads == 0) {
    KvReadAnswer a = kv.read(KvRead::get_multi({"x", "y"}));
    ASSERT_EQ(a.values.at(0), a.values.at(1)) << "a torn view";
    ++reads;
  }
  writer.join();
  EXPECT_EQ(kv.get("x"), "300");
}

TEST_P(KvMachineTest, RedeliveredEntriesAreSkippedAfterReopen) {
  Kv kv = make("a");
  kv.apply({KvCommand::put("a", "1").at(1),
            KvCommand::compare_and_swap("a", "1", "2").at(1),
            KvCommand::put("b", "x").at(1)});
  kv.crash_and_reopen();
  EXPECT_EQ(kv.last_applied(), 3u);
  // The engine re-delivers from index 2 with one new entry.
  auto r = kv.apply_raw(
      2, {encode_command(KvCommand::compare_and_swap("a", "1", "2").at(1)),
          encode_command(KvCommand::put("b", "x").at(1)),
          encode_command(KvCommand::compare_and_swap("a", "2", "3").at(1))});
  EXPECT_EQ(r[0].code, KvResultCode::kAlreadyApplied);
  EXPECT_EQ(r[1].code, KvResultCode::kAlreadyApplied);
  EXPECT_EQ(r[2].code, KvResultCode::kOk);
  EXPECT_EQ(kv.get("a"), "3");
  EXPECT_EQ(kv.last_applied(), 4u);
  EXPECT_EQ(kv.len(), 2u);
}

TEST_P(KvMachineTest, SurvivesCloseWithoutStop) {
  Kv kv = make("a");
  for (int chunk = 0; chunk < 20; ++chunk) {
    kv.apply({KvCommand::put("k" + std::to_string(chunk), "v").at(1),
              KvCommand::put_with_ttl("t" + std::to_string(chunk), "v", 5)
                  .at(static_cast<uint64_t>(chunk))});
  }
  const auto before = kv.all();
  kv.crash_and_reopen();
  EXPECT_EQ(kv.all(), before);
  EXPECT_EQ(kv.len(), before.size());
  EXPECT_EQ(kv.last_applied(), 40u);
  // The expiry index survived too.
  kv.apply({KvCommand::tick(1000)});
  EXPECT_EQ(kv.len(), 20u);
  kv.stop_and_reopen();
  EXPECT_EQ(kv.len(), 20u);
}

TEST_P(KvMachineTest, SnapshotInstalledOnAFreshMachineReadsTheSame) {
  Kv a = make("a");
  a.apply({KvCommand::put("k1", "v1").at(10), KvCommand::put("k2", "v2").at(10),
           KvCommand::put_with_ttl("t", "temp", 100).at(10),
           KvCommand::erase("k1").at(20)});
  const fs::path snap = dir("snapshot");
  fs::create_directories(snap);
  EXPECT_EQ(a.m().generate_snapshot(a.m().user, snap.c_str(), 3),
            DENGINE_ERR_INVALID_ARGUMENT)
      << "not the last applied index";
  ASSERT_EQ(a.m().generate_snapshot(a.m().user, snap.c_str(), 4), DENGINE_OK);

  Kv b = make("b");
  b.apply({KvCommand::put("stale", "x").at(1)});
  dengine_snapshot_meta meta{4, 1, {}};
  ASSERT_EQ(b.m().install_snapshot(b.m().user, snap.c_str(), &meta),
            DENGINE_OK);
  EXPECT_EQ(b.last_applied(), 4u);
  EXPECT_EQ(b.all(), a.all());
  EXPECT_EQ(b.len(), a.len());
  // Both go on identically, clock and TTLs included, also after a reopen.
  b.crash_and_reopen();
  b.set_next_index(5);
  for (Kv* kv : {&a, &b}) kv->apply({KvCommand::tick(110)});
  EXPECT_EQ(b.get("t"), std::nullopt);
  EXPECT_EQ(b.all(), a.all());
  EXPECT_EQ(b.len(), 1u);
}

TEST_P(KvMachineTest, ResetClearsEverything) {
  Kv kv = make("a");
  kv.apply({KvCommand::put("a", "1").at(1),
            KvCommand::put_with_ttl("t", "", 5).at(1)});
  ASSERT_EQ(kv.m().reset(kv.m().user), DENGINE_OK);
  EXPECT_EQ(kv.last_applied(), 0u);
  EXPECT_EQ(kv.len(), 0u);
  EXPECT_TRUE(kv.all().empty());
  kv.crash_and_reopen();
  EXPECT_EQ(kv.last_applied(), 0u);
  EXPECT_TRUE(kv.all().empty());
  kv.set_next_index(1);
  kv.apply({KvCommand::put("b", "2").at(1)});
  EXPECT_EQ(kv.len(), 1u);
}

TEST_P(KvMachineTest, BadCommandsAndOtherEntryKindsHaveNoEffect) {
  Kv kv = make("a");
  auto r = kv.apply_raw(1, {"garbage", ""});
  EXPECT_EQ(r[0].code, KvResultCode::kBadCommand);
  EXPECT_EQ(r[1].code, KvResultCode::kBadCommand);
  dengine_entry noop{3, 1, DENGINE_ENTRY_NOOP, nullptr, 0};
  dengine_results results;
  results.entries.resize(1);
  ASSERT_EQ(kv.m().apply_chunk(kv.m().user, &noop, 1, &results), DENGINE_OK);
  EXPECT_TRUE(results.entries[0].data.empty()) << "no result for a no-op";
  EXPECT_EQ(kv.last_applied(), 3u);
  EXPECT_EQ(kv.len(), 0u);
}

TEST_P(KvMachineTest, RefusesGapsAndMalformedReads) {
  Kv kv = make("a");
  kv.apply_raw(5, {encode_command(KvCommand::put("a", "1").at(1))},
               DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(kv.last_applied(), 0u);
  dengine_read_result result;
  const uint8_t junk[] = {1, 9, 9};
  EXPECT_EQ(kv.m().read(kv.m().user, junk, sizeof(junk), &result),
            DENGINE_ERR_INVALID_ARGUMENT);
}

INSTANTIATE_TEST_SUITE_P(Backends, KvMachineTest,
                         ::testing::Values(DENGINE_KV_ROCKSDB, DENGINE_KV_FILE),
                         [](const auto& info) {
                           return info.param == DENGINE_KV_ROCKSDB ? "RocksDb"
                                                                   : "File";
                         });

TEST(KvMachineOpenTest, RefusesAnUnknownBackend) {
  dengine_state_machine m{};
  std::string error;
  EXPECT_EQ(
      open_kv_machine(::testing::TempDir() + "/kv_unknown", 7, &m, &error),
      DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(error.find("unknown KV backend"), std::string::npos);
}

}  // namespace
}  // namespace dengine::sm
