// Recovery paths particular to each backend: the file machine's torn log
// tail, damaged records and compaction; the RocksDB machine's database swap
// interrupted by a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "sm/file_kv_machine.h"
#include "sm/kv_command.h"
#include "sm/rocksdb_kv_machine.h"

namespace dengine::sm {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) /
                 ("kv_recovery_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  return dir;
}

// Applies commands as one chunk starting at `first_index`.
void apply(KvBackend* kv, uint64_t first_index,
           const std::vector<KvCommand>& commands) {
  std::vector<std::string> data;
  for (const KvCommand& c : commands) data.push_back(encode_command(c));
  std::vector<dengine_entry> entries;
  for (size_t i = 0; i < data.size(); ++i) {
    entries.push_back({first_index + i, 1, DENGINE_ENTRY_NORMAL,
                       reinterpret_cast<const uint8_t*>(data[i].data()),
                       data[i].size()});
  }
  std::vector<std::optional<KvResult>> results;
  ASSERT_TRUE(kv->apply_chunk(entries.data(), entries.size(), &results));
}

std::optional<std::string> get(KvBackend* kv, const std::string& key) {
  std::string answer;
  EXPECT_TRUE(kv->read(encode_read(KvRead::get(key)), &answer));
  KvReadAnswer decoded;
  EXPECT_TRUE(decode_read_answer(KvReadType::kGet, answer, &decoded));
  return decoded.values.at(0);
}

fs::path only_log(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log") return e.path();
  }
  return {};
}

TEST(FileKvRecoveryTest, CutsATornTail) {
  const fs::path dir = fresh_dir("torn");
  {
    std::unique_ptr<FileKvMachine> kv;
    ASSERT_TRUE(FileKvMachine::open(dir, &kv));
    apply(kv.get(), 1, {KvCommand::put("a", "1").at(1)});
    apply(kv.get(), 2, {KvCommand::put("b", "2").at(1)});
  }
  // The second record's last bytes never reached the disk.
  const fs::path log = only_log(dir);
  fs::resize_file(log, fs::file_size(log) - 3);
  std::unique_ptr<FileKvMachine> kv;
  ASSERT_TRUE(FileKvMachine::open(dir, &kv));
  EXPECT_EQ(kv->last_applied(), 1u);
  EXPECT_EQ(get(kv.get(), "a"), "1");
  EXPECT_EQ(get(kv.get(), "b"), std::nullopt);
  apply(kv.get(), 2, {KvCommand::put("c", "3").at(1)});
  kv.reset();
  ASSERT_TRUE(FileKvMachine::open(dir, &kv));
  EXPECT_EQ(kv->last_applied(), 2u);
  EXPECT_EQ(get(kv.get(), "c"), "3");
}

// A file system may extend the log before its data lands: a crash then
// leaves zeros where the last records should be. An all-zero header passes
// the checksum (the CRC-32C of an empty payload is 0), yet it is a torn tail.
TEST(FileKvRecoveryTest, CutsAZeroFilledTail) {
  const fs::path dir = fresh_dir("zero_tail");
  {
    std::unique_ptr<FileKvMachine> kv;
    ASSERT_TRUE(FileKvMachine::open(dir, &kv));
    apply(kv.get(), 1, {KvCommand::put("a", "1").at(1)});
    apply(kv.get(), 2, {KvCommand::put("b", "2").at(1)});
  }
  const fs::path log = only_log(dir);
  const uintmax_t valid = fs::file_size(log);
  fs::resize_file(log, valid + 4096);  // zero-filled
  std::unique_ptr<FileKvMachine> kv;
  storage::Status s = FileKvMachine::open(dir, &kv);
  ASSERT_TRUE(s) << s.to_string();
  EXPECT_EQ(kv->last_applied(), 2u);
  EXPECT_EQ(get(kv.get(), "a"), "1");
  EXPECT_EQ(get(kv.get(), "b"), "2");
  EXPECT_EQ(fs::file_size(log), valid);
  apply(kv.get(), 3, {KvCommand::put("c", "3").at(1)});
  kv.reset();
  ASSERT_TRUE(FileKvMachine::open(dir, &kv));
  EXPECT_EQ(kv->last_applied(), 3u);
  EXPECT_EQ(get(kv.get(), "c"), "3");
}

// Zeros with a valid record after them are damage, not a tail.
TEST(FileKvRecoveryTest, ZeroedRecordBeforeTheTailIsCorruption) {
  const fs::path dir = fresh_dir("zero_middle");
  uintmax_t first_end = 0;
  uintmax_t second_end = 0;
  {
    std::unique_ptr<FileKvMachine> kv;
    ASSERT_TRUE(FileKvMachine::open(dir, &kv));
    apply(kv.get(), 1, {KvCommand::put("a", "1").at(1)});
    first_end = fs::file_size(only_log(dir));
    apply(kv.get(), 2, {KvCommand::put("b", "2").at(1)});
    second_end = fs::file_size(only_log(dir));
    apply(kv.get(), 3, {KvCommand::put("c", "3").at(1)});
  }
  {
    std::fstream f(only_log(dir),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(first_end));
    const std::string zeros(second_end - first_end, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  std::unique_ptr<FileKvMachine> kv;
  storage::Status s = FileKvMachine::open(dir, &kv);
  EXPECT_EQ(s.code(), storage::StatusCode::kCorruption) << s.to_string();
}

TEST(FileKvRecoveryTest, DamageBeforeTheTailIsCorruption) {
  const fs::path dir = fresh_dir("damaged");
  {
    std::unique_ptr<FileKvMachine> kv;
    ASSERT_TRUE(FileKvMachine::open(dir, &kv));
    apply(kv.get(), 1, {KvCommand::put("a", "1").at(1)});
    apply(kv.get(), 2, {KvCommand::put("b", "2").at(1)});
  }
  {
    std::fstream f(only_log(dir),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(12);  // inside the first record's payload
    f.put('\x7f');
  }
  std::unique_ptr<FileKvMachine> kv;
  storage::Status s = FileKvMachine::open(dir, &kv);
  EXPECT_EQ(s.code(), storage::StatusCode::kCorruption) << s.to_string();
}

TEST(FileKvRecoveryTest, CompactsTheLogIntoANewImage) {
  const fs::path dir = fresh_dir("compact");
  const std::string big(1 << 20, 'x');
  {
    std::unique_ptr<FileKvMachine> kv;
    ASSERT_TRUE(FileKvMachine::open(dir, &kv));
    for (uint64_t i = 1; i <= 6; ++i) {
      apply(kv.get(), i,
            {KvCommand::put("k" + std::to_string(i % 2), big).at(1)});
    }
    EXPECT_EQ(kv->len(), 2u);
  }
  EXPECT_TRUE(fs::exists(dir / "image-1")) << "compacted once";
  EXPECT_LT(fs::file_size(only_log(dir)), 4u << 20);
  std::unique_ptr<FileKvMachine> kv;
  ASSERT_TRUE(FileKvMachine::open(dir, &kv));
  EXPECT_EQ(kv->last_applied(), 6u);
  EXPECT_EQ(kv->len(), 2u);
  EXPECT_EQ(get(kv.get(), "k0"), big);
}

// A crash between the two renames of a database swap: db.old and a complete
// db.installing. The new state must win.
TEST(RocksDbKvRecoveryTest, FinishesASwapInterruptedByACrash) {
  const fs::path dir = fresh_dir("swap");
  const fs::path snapshot = fresh_dir("swap_snapshot");
  fs::create_directories(snapshot);
  {
    std::unique_ptr<RocksDbKvMachine> kv;
    ASSERT_TRUE(RocksDbKvMachine::open(dir, &kv));
    apply(kv.get(), 1, {KvCommand::put("k", "new").at(1)});
    ASSERT_TRUE(kv->generate_snapshot(snapshot, 1));
    apply(kv.get(), 2, {KvCommand::put("k", "old").at(1)});
  }
  fs::rename(dir / "db", dir / "db.old");
  fs::copy(snapshot / "db", dir / "db.installing");
  std::unique_ptr<RocksDbKvMachine> kv;
  ASSERT_TRUE(RocksDbKvMachine::open(dir, &kv));
  EXPECT_EQ(get(kv.get(), "k"), "new");
  EXPECT_EQ(kv->last_applied(), 1u);
  EXPECT_FALSE(fs::exists(dir / "db.old"));
  EXPECT_FALSE(fs::exists(dir / "db.installing"));
}

// A crash while db.installing was being prepared: the old state stays.
TEST(RocksDbKvRecoveryTest, DropsAHalfPreparedInstall) {
  const fs::path dir = fresh_dir("half");
  {
    std::unique_ptr<RocksDbKvMachine> kv;
    ASSERT_TRUE(RocksDbKvMachine::open(dir, &kv));
    apply(kv.get(), 1, {KvCommand::put("k", "old").at(1)});
  }
  fs::create_directories(dir / "db.installing");
  std::ofstream(dir / "db.installing" / "CURRENT") << "garbage";
  std::unique_ptr<RocksDbKvMachine> kv;
  ASSERT_TRUE(RocksDbKvMachine::open(dir, &kv));
  EXPECT_EQ(get(kv.get(), "k"), "old");
  EXPECT_FALSE(fs::exists(dir / "db.installing"));
}

// Both machines call before_commit once a chunk's events are final and
// before its write: a crash there leaves the machine behind the watch
// history the node records in it, never ahead.
template <typename Machine>
void check_before_commit(const fs::path& dir) {
  std::unique_ptr<Machine> kv;
  ASSERT_TRUE(Machine::open(dir.string(), &kv));
  apply(kv.get(), 1, {KvCommand::put("a", "1")});
  const std::string data = encode_command(KvCommand::put("b", "2"));
  const dengine_entry entry{2, 1, DENGINE_ENTRY_NORMAL,
                            reinterpret_cast<const uint8_t*>(data.data()),
                            data.size()};
  std::vector<std::optional<KvResult>> results;
  std::vector<watch::Event> events;
  int calls = 0;
  const std::function<void()> before_commit = [&] {
    ++calls;
    EXPECT_EQ(kv->last_applied(), 1u) << "the chunk was written already";
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].key, "b");
  };
  ASSERT_TRUE(kv->apply_chunk(&entry, 1, &results, &events, &before_commit));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(kv->last_applied(), 2u);
  // Nothing new to write: not called.
  ASSERT_TRUE(kv->apply_chunk(&entry, 1, &results, &events, &before_commit));
  EXPECT_EQ(calls, 1);
}

TEST(KvBeforeCommitTest, TheFileMachineCallsItBeforeItsWrite) {
  check_before_commit<FileKvMachine>(fresh_dir("before_commit_file"));
}

TEST(KvBeforeCommitTest, TheRocksDbMachineCallsItBeforeItsWrite) {
  check_before_commit<RocksDbKvMachine>(fresh_dir("before_commit_rocksdb"));
}

}  // namespace
}  // namespace dengine::sm
