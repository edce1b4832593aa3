// SnapshotStore: complete snapshots only, checksummed, newest K kept, damage
// refused with a clear error; received snapshots staged out of sight until
// committed.
#include "storage/snapshot_store.h"
#include "../base/log_capture.h"
#include "scratch_dir.h"

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

void write_file(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

raft::SnapshotMeta meta(raft::Index index, raft::Term term) {
  return raft::SnapshotMeta{index, term, {{1, 2, 3}, {7}}};
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/snapshots";
    ASSERT_TRUE(SnapshotStore::open(root_, 3, &store_).is_ok());
  }

  // Writes and commits a snapshot whose single file holds `content`.
  SnapshotInfo take(raft::Index index, raft::Term term,
                    const std::string& content) {
    std::unique_ptr<SnapshotWriter> writer;
    EXPECT_TRUE(store_->begin(meta(index, term), &writer).is_ok());
    write_file(writer->data_dir() + "/state", content);
    SnapshotInfo info;
    const Status s = writer->commit("", &info);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return info;
  }

  ScratchDir dir_;
  std::string root_;
  std::unique_ptr<SnapshotStore> store_;
};

TEST(Sha256OfDirTest, HashesNamesSizesAndBytesInNameOrder) {
  ScratchDir dir;
  write_file(dir.path() + "/sub/c/d", "hello\n");
  write_file(dir.path() + "/a", "abc");
  write_file(dir.path() + "/sub/b", "");
  std::string hex;
  ASSERT_TRUE(sha256_of_dir(dir.path(), &hex).is_ok());
  // Computed independently (Python hashlib) from the documented layout.
  EXPECT_EQ(hex,
            "67d215c7317ef01c8b0947aa996cd5e3fc5d4905a95bfe05d05a6c8dbd62d790");
}

TEST(Sha256OfDirTest, EmptyDirectoryHashesNothing) {
  ScratchDir dir;
  std::string hex;
  ASSERT_TRUE(sha256_of_dir(dir.path(), &hex).is_ok());
  EXPECT_EQ(hex,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256OfDirTest, MissingDirectoryIsAnError) {
  std::string hex;
  EXPECT_FALSE(sha256_of_dir("/nonexistent/dengine/dir", &hex).is_ok());
}

TEST_F(SnapshotStoreTest, EmptyStoreHasNoSnapshot) {
  SnapshotInfo info;
  EXPECT_EQ(store_->latest(&info).code(), StatusCode::kNotFound);
  std::vector<SnapshotInfo> all;
  ASSERT_TRUE(store_->list(&all).is_ok());
  EXPECT_TRUE(all.empty());
}

TEST_F(SnapshotStoreTest, CommitMakesTheSnapshotVisible) {
  const SnapshotInfo info = take(10, 2, "state at 10");
  EXPECT_EQ(info.meta, meta(10, 2));
  EXPECT_EQ(info.bytes, 11u);
  EXPECT_EQ(info.sha256.size(), 64u);
  EXPECT_EQ(read_file(info.data_dir + "/state"), "state at 10");

  SnapshotInfo latest;
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta, info.meta);
  EXPECT_EQ(latest.sha256, info.sha256);
  EXPECT_EQ(latest.bytes, info.bytes);
  EXPECT_EQ(latest.data_dir, info.data_dir);
  EXPECT_TRUE(store_->verify(latest).is_ok());
  EXPECT_EQ(names_in(root_),
            std::vector<std::string>{
                "snap-00000000000000000010-00000000000000000002"});
}

TEST_F(SnapshotStoreTest, SurvivesReopen) {
  const SnapshotInfo info = take(10, 2, "x");
  store_.reset();
  ASSERT_TRUE(SnapshotStore::open(root_, 3, &store_).is_ok());
  SnapshotInfo latest;
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta, info.meta);
  EXPECT_EQ(latest.sha256, info.sha256);
}

TEST_F(SnapshotStoreTest, KeepsTheNewestK) {
  for (raft::Index i = 1; i <= 5; ++i) take(i * 10, 1, "s" + std::to_string(i));
  std::vector<SnapshotInfo> all;
  ASSERT_TRUE(store_->list(&all).is_ok());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].meta.index, 30u);
  EXPECT_EQ(all[2].meta.index, 50u);
  EXPECT_EQ(names_in(root_).size(), 3u);
  SnapshotInfo latest;
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta.index, 50u);
}

TEST_F(SnapshotStoreTest, UncommittedWritesLeaveNothing) {
  {
    std::unique_ptr<SnapshotWriter> writer;
    ASSERT_TRUE(store_->begin(meta(5, 1), &writer).is_ok());
    write_file(writer->data_dir() + "/state", "abandoned");
  }
  std::unique_ptr<SnapshotWriter> writer;
  ASSERT_TRUE(store_->begin(meta(6, 1), &writer).is_ok());
  writer->abort();
  SnapshotInfo info;
  EXPECT_EQ(writer->commit("", &info).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(names_in(root_).empty());
  EXPECT_EQ(store_->latest(&info).code(), StatusCode::kNotFound);
}

TEST_F(SnapshotStoreTest, OpenRemovesInterruptedWrites) {
  take(10, 1, "kept");
  write_file(root_ + "/tmp-crashed/data/state", "half written");
  store_.reset();
  base::LogCapture capture;
  ASSERT_TRUE(SnapshotStore::open(root_, 3, &store_).is_ok());
  EXPECT_EQ(names_in(root_),
            std::vector<std::string>{
                "snap-00000000000000000010-00000000000000000001"});
  EXPECT_EQ(capture.find(DENGINE_LOG_INFO, {"removing", "tmp-crashed"}).size(),
            1u);
}

TEST_F(SnapshotStoreTest, ReceivedSnapshotMustMatchItsChecksum) {
  ScratchDir source;
  write_file(source.path() + "/state", "from the leader");
  std::string expected;
  ASSERT_TRUE(sha256_of_dir(source.path(), &expected).is_ok());

  std::unique_ptr<SnapshotWriter> writer;
  ASSERT_TRUE(store_->begin(meta(20, 3), &writer).is_ok());
  write_file(writer->data_dir() + "/state", "from the leader, damaged");
  SnapshotInfo info;
  base::LogCapture capture;
  const Status s = writer->commit(expected, &info);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(capture.find(DENGINE_LOG_WARN, {"refusing", s.message()}).size(),
            1u);
  EXPECT_NE(s.message().find("index 20, term 3"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find(expected), std::string::npos) << s.message();
  EXPECT_TRUE(names_in(root_).empty());

  ASSERT_TRUE(store_->begin(meta(20, 3), &writer).is_ok());
  write_file(writer->data_dir() + "/state", "from the leader");
  ASSERT_TRUE(writer->commit(expected, &info).is_ok());
  EXPECT_EQ(info.sha256, expected);
}

// Writes a snapshot as a leader would have sent it and stages it.
std::unique_ptr<StagedSnapshot> stage(SnapshotStore* store,
                                      raft::SnapshotMeta m,
                                      const std::string& content) {
  std::unique_ptr<SnapshotWriter> writer;
  EXPECT_TRUE(store->begin(m, &writer).is_ok());
  write_file(writer->data_dir() + "/state", content);
  ScratchDir source;
  write_file(source.path() + "/state", content);
  std::string expected;
  EXPECT_TRUE(sha256_of_dir(source.path(), &expected).is_ok());
  std::unique_ptr<StagedSnapshot> staged;
  const Status s = writer->stage(expected, &staged);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return staged;
}

TEST_F(SnapshotStoreTest, AStagedSnapshotIsVisibleOnlyOnceCommitted) {
  const SnapshotInfo older = take(10, 2, "state at 10");
  std::unique_ptr<StagedSnapshot> staged =
      stage(store_.get(), meta(20, 3), "state at 20");
  ASSERT_NE(staged, nullptr);
  EXPECT_EQ(staged->info().meta, meta(20, 3));
  EXPECT_EQ(staged->info().bytes, 11u);
  EXPECT_EQ(read_file(staged->info().data_dir + "/state"), "state at 20");

  SnapshotInfo latest;
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta, older.meta);
  std::vector<SnapshotInfo> all;
  ASSERT_TRUE(store_->list(&all).is_ok());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].meta, older.meta);

  SnapshotInfo committed;
  ASSERT_TRUE(staged->commit(&committed).is_ok());
  EXPECT_EQ(committed.meta, meta(20, 3));
  EXPECT_EQ(committed.sha256, staged->info().sha256);
  EXPECT_EQ(read_file(committed.data_dir + "/state"), "state at 20");
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta, committed.meta);
  EXPECT_EQ(latest.data_dir, committed.data_dir);
  EXPECT_TRUE(store_->verify(latest).is_ok());
  EXPECT_EQ(staged->commit(&committed).code(), StatusCode::kInvalidArgument);

  staged.reset();  // committed: destroying it keeps the snapshot
  EXPECT_EQ(names_in(root_),
            (std::vector<std::string>{
                "snap-00000000000000000010-00000000000000000002",
                "snap-00000000000000000020-00000000000000000003"}));
}

TEST_F(SnapshotStoreTest, ADestroyedStagedSnapshotLeavesNothing) {
  std::unique_ptr<StagedSnapshot> staged =
      stage(store_.get(), meta(20, 3), "refused by the core");
  ASSERT_NE(staged, nullptr);
  EXPECT_EQ(names_in(root_).size(), 1u);  // the staged copy
  staged.reset();
  EXPECT_TRUE(names_in(root_).empty());
  SnapshotInfo latest;
  EXPECT_EQ(store_->latest(&latest).code(), StatusCode::kNotFound);
}

TEST_F(SnapshotStoreTest, AStagedSnapshotFailingItsChecksumIsNotKept) {
  std::unique_ptr<SnapshotWriter> writer;
  ASSERT_TRUE(store_->begin(meta(20, 3), &writer).is_ok());
  write_file(writer->data_dir() + "/state", "damaged");
  std::unique_ptr<StagedSnapshot> staged;
  EXPECT_EQ(writer->stage(std::string(64, '0'), &staged).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(staged, nullptr);
  EXPECT_TRUE(names_in(root_).empty());
}

TEST_F(SnapshotStoreTest, OpenRemovesStagedSnapshots) {
  take(10, 1, "kept");
  std::unique_ptr<StagedSnapshot> staged =
      stage(store_.get(), meta(20, 3), "never installed");
  ASSERT_NE(staged, nullptr);
  const std::string staged_dir =
      fs::path(staged->info().data_dir).parent_path().string();
  ASSERT_TRUE(fs::exists(staged_dir));
  // As after a crash: the store is opened again while the staged copy is
  // still on disk.
  store_.reset();
  ASSERT_TRUE(SnapshotStore::open(root_, 3, &store_).is_ok());
  EXPECT_FALSE(fs::exists(staged_dir));
  EXPECT_EQ(names_in(root_),
            std::vector<std::string>{
                "snap-00000000000000000010-00000000000000000001"});
  SnapshotInfo latest;
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta.index, 10u);
}

TEST_F(SnapshotStoreTest, VerifyDetectsChangedContents) {
  const SnapshotInfo info = take(10, 2, "original");
  write_file(info.data_dir + "/state", "0riginal");
  const Status s = store_->verify(info);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("snapshot at index 10, term 2"), std::string::npos)
      << s.message();
  fs::remove(info.data_dir + "/state");
  EXPECT_EQ(store_->verify(info).code(), StatusCode::kCorruption);
}

TEST_F(SnapshotStoreTest, DamagedMetaIsRefusedNamingTheSnapshot) {
  const SnapshotInfo info = take(10, 2, "x");
  const std::string meta_path =
      fs::path(info.data_dir).parent_path().string() + "/META";
  std::string bytes = read_file(meta_path);
  bytes[9] ^= 0x01;
  write_file(meta_path, bytes);
  SnapshotInfo latest;
  Status s = store_->latest(&latest);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("snap-00000000000000000010-00000000000000000002"),
            std::string::npos)
      << s.message();
  std::vector<SnapshotInfo> all;
  EXPECT_EQ(store_->list(&all).code(), StatusCode::kCorruption);

  write_file(meta_path, bytes.substr(0, 10));
  EXPECT_EQ(store_->latest(&latest).code(), StatusCode::kCorruption);
  fs::remove(meta_path);
  EXPECT_EQ(store_->latest(&latest).code(), StatusCode::kCorruption);
  // Reopening keeps the damaged snapshot for inspection.
  store_.reset();
  ASSERT_TRUE(SnapshotStore::open(root_, 3, &store_).is_ok());
  EXPECT_EQ(store_->latest(&latest).code(), StatusCode::kCorruption);
}

TEST_F(SnapshotStoreTest, MetaOfAnotherSnapshotIsRefused) {
  const SnapshotInfo info = take(10, 2, "x");
  const std::string dir = fs::path(info.data_dir).parent_path().string();
  fs::rename(dir, root_ + "/snap-00000000000000000011-00000000000000000002");
  SnapshotInfo latest;
  EXPECT_EQ(store_->latest(&latest).code(), StatusCode::kCorruption);
}

TEST_F(SnapshotStoreTest, SameSnapshotAgainReplacesIt) {
  take(10, 2, "first copy");
  const SnapshotInfo second = take(10, 2, "second copy");
  SnapshotInfo latest;
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.sha256, second.sha256);
  EXPECT_EQ(read_file(latest.data_dir + "/state"), "second copy");
  EXPECT_EQ(names_in(root_).size(), 1u);
}

TEST_F(SnapshotStoreTest, NestedFilesAreCheckedAndCounted) {
  std::unique_ptr<SnapshotWriter> writer;
  ASSERT_TRUE(store_->begin(meta(7, 1), &writer).is_ok());
  write_file(writer->data_dir() + "/a", "abc");
  write_file(writer->data_dir() + "/sub/b", "");
  write_file(writer->data_dir() + "/sub/c/d", "hello\n");
  SnapshotInfo info;
  ASSERT_TRUE(writer->commit("", &info).is_ok());
  EXPECT_EQ(info.sha256,
            "67d215c7317ef01c8b0947aa996cd5e3fc5d4905a95bfe05d05a6c8dbd62d790");
  EXPECT_EQ(info.bytes, 9u);
  EXPECT_TRUE(store_->verify(info).is_ok());
}

TEST_F(SnapshotStoreTest, SymlinksAreRefused) {
  std::unique_ptr<SnapshotWriter> writer;
  ASSERT_TRUE(store_->begin(meta(7, 1), &writer).is_ok());
  fs::create_symlink("/etc/hostname", writer->data_dir() + "/link");
  SnapshotInfo info;
  EXPECT_EQ(writer->commit("", &info).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(names_in(root_).empty());
}

TEST_F(SnapshotStoreTest, InvalidArgumentsAreRefused) {
  std::unique_ptr<SnapshotWriter> writer;
  EXPECT_EQ(store_->begin(meta(0, 0), &writer).code(),
            StatusCode::kInvalidArgument);
  std::unique_ptr<SnapshotStore> other;
  EXPECT_EQ(SnapshotStore::open(root_, 0, &other).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SnapshotStore::open("", 1, &other).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(SnapshotStoreTest, MembershipRoundTrips) {
  std::unique_ptr<SnapshotWriter> writer;
  const raft::SnapshotMeta m{99, 5, {{4, 9, 1ull << 40}, {2, 3}}};
  ASSERT_TRUE(store_->begin(m, &writer).is_ok());
  SnapshotInfo info;
  ASSERT_TRUE(writer->commit("", &info).is_ok());
  store_.reset();
  ASSERT_TRUE(SnapshotStore::open(root_, 3, &store_).is_ok());
  SnapshotInfo latest;
  ASSERT_TRUE(store_->latest(&latest).is_ok());
  EXPECT_EQ(latest.meta, m);
  EXPECT_EQ(latest.bytes, 0u);
}

}  // namespace
}  // namespace dengine::storage
