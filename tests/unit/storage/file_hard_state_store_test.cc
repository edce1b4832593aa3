// The file hard-state store: its on-disk format, atomic replacement, and
// damage reported with the file's path.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "base/crc32c.h"
#include "storage/file_system.h"
#include "storage/hard_state_store.h"

namespace dengine::storage {
namespace {

namespace fs = std::filesystem;

class FileHardStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "dengine-hard-state-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ + "/state";
    path_ = dir_ + "/HARDSTATE";
    ASSERT_TRUE(
        open_file_hard_state_store(posix_file_system(), dir_, &store_).is_ok());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string read_bytes() {
    std::ifstream in(path_, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void write_bytes(const std::string& bytes) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  std::string root_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<HardStateStore> store_;
};

TEST_F(FileHardStateStoreTest, MissingFileLoadsZeroState) {
  raft::HardState state{1, 2, 3};
  ASSERT_TRUE(store_->load(&state).is_ok());
  EXPECT_EQ(state, raft::HardState{});
}

// The format is stable: version 1, then term, vote and commit as 8-byte
// little-endian integers, then a CRC32C of those 25 bytes.
TEST_F(FileHardStateStoreTest, OnDiskFormat) {
  ASSERT_TRUE(store_->save({0x0102, 3, 0x0A0B0C}).is_ok());
  std::string body("\x01", 1);
  body += std::string("\x02\x01\0\0\0\0\0\0", 8);
  body += std::string("\x03\0\0\0\0\0\0\0", 8);
  body += std::string("\x0C\x0B\x0A\0\0\0\0\0", 8);
  const uint32_t crc = base::crc32c(body);
  std::string expected = body;
  for (int i = 0; i < 4; ++i)
    expected.push_back(static_cast<char>(crc >> (8 * i)));
  EXPECT_EQ(read_bytes(), expected);
}

TEST_F(FileHardStateStoreTest, SaveReplacesTheFileAndLeavesNoTemporary) {
  ASSERT_TRUE(store_->save({1, 1, 0}).is_ok());
  ASSERT_TRUE(store_->save({2, 0, 5}).is_ok());
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"HARDSTATE"});
  raft::HardState state;
  ASSERT_TRUE(store_->load(&state).is_ok());
  EXPECT_EQ(state, (raft::HardState{2, 0, 5}));
}

TEST_F(FileHardStateStoreTest, LeftoverTemporaryFromACrashIsHarmless) {
  ASSERT_TRUE(store_->save({4, 2, 9}).is_ok());
  {
    std::ofstream tmp(dir_ + "/HARDSTATE.tmp", std::ios::binary);
    tmp << std::string(100, 'g');
  }
  raft::HardState state;
  ASSERT_TRUE(store_->load(&state).is_ok());
  EXPECT_EQ(state, (raft::HardState{4, 2, 9}));
  ASSERT_TRUE(store_->save({5, 0, 9}).is_ok());
  ASSERT_TRUE(store_->load(&state).is_ok());
  EXPECT_EQ(state, (raft::HardState{5, 0, 9}));
}

TEST_F(FileHardStateStoreTest, FlippedBitIsCorruptionNamingTheFile) {
  ASSERT_TRUE(store_->save({7, 1, 40}).is_ok());
  const std::string good = read_bytes();
  for (size_t byte = 0; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      write_bytes(bad);
      raft::HardState state;
      const Status s = store_->load(&state);
      ASSERT_EQ(s.code(), StatusCode::kCorruption)
          << "byte " << byte << " bit " << bit;
      EXPECT_NE(s.message().find(path_), std::string::npos) << s.message();
    }
  }
}

TEST_F(FileHardStateStoreTest, TruncatedOrEmptyFileIsCorruption) {
  ASSERT_TRUE(store_->save({7, 1, 40}).is_ok());
  const std::string good = read_bytes();
  for (size_t size : {size_t{0}, size_t{1}, good.size() - 1}) {
    write_bytes(good.substr(0, size));
    raft::HardState state;
    EXPECT_EQ(store_->load(&state).code(), StatusCode::kCorruption) << size;
  }
  write_bytes(good + "x");
  raft::HardState state;
  EXPECT_EQ(store_->load(&state).code(), StatusCode::kCorruption);
}

TEST_F(FileHardStateStoreTest, UnknownFormatVersionIsCorruption) {
  std::string body(25, '\0');
  body[0] = 2;
  const uint32_t crc = base::crc32c(body);
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>(crc >> (8 * i)));
  write_bytes(body);
  raft::HardState state;
  const Status s = store_->load(&state);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("format version 2"), std::string::npos)
      << s.message();
}

TEST(FileHardStateStoreOpenTest, RefusesMissingArguments) {
  std::unique_ptr<HardStateStore> store;
  EXPECT_EQ(open_file_hard_state_store(nullptr, "/tmp/x", &store).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(open_file_hard_state_store(posix_file_system(), "", &store).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dengine::storage
