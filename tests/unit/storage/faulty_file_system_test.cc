// The fault-injecting file system's armed crash: a power loss in place of
// the n-th change, and a disk that stays down until restarted.
#include "testkit/faulty_file_system.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace dengine::testkit {
namespace {

using storage::File;
using storage::StatusCode;

TEST(FaultyFileSystemTest, ArmedCrashReplacesTheNthChange) {
  FaultyFileSystem fs;
  ASSERT_TRUE(fs.create_dirs("/d"));
  std::unique_ptr<File> file;
  ASSERT_TRUE(fs.open("/d/f", true, &file));
  ASSERT_TRUE(fs.sync_dir("/d"));
  ASSERT_TRUE(file->write(0, "old"));
  ASSERT_TRUE(file->sync());

  fs.crash_at_change(2, 0, CrashMode::kDropUnsynced);
  ASSERT_TRUE(file->write(0, "new"));
  EXPECT_FALSE(fs.crash_struck());
  EXPECT_EQ(file->sync().code(), StatusCode::kIo);  // the power loss
  EXPECT_TRUE(fs.crash_struck());

  // Nothing runs on a disk without power.
  std::unique_ptr<File> other;
  EXPECT_EQ(fs.open("/d/f", false, &other).code(), StatusCode::kIo);
  EXPECT_EQ(fs.sync_dir("/d").code(), StatusCode::kIo);
  EXPECT_FALSE(fs.exists("/d/f"));

  fs.restart();
  EXPECT_FALSE(fs.crash_struck());
  EXPECT_EQ(file->write(0, "x").code(), StatusCode::kIo);  // opened before
  ASSERT_TRUE(fs.open("/d/f", false, &other));
  std::string content;
  ASSERT_TRUE(other->read(0, 16, &content));
  EXPECT_EQ(content, "old");
}

TEST(FaultyFileSystemTest, CrashDisarmsAnArmedCrash) {
  FaultyFileSystem fs;
  ASSERT_TRUE(fs.create_dirs("/d"));
  fs.crash_at_change(3, 0, CrashMode::kDropUnsynced);
  fs.crash(0, CrashMode::kDropUnsynced);
  std::unique_ptr<File> file;
  ASSERT_TRUE(fs.open("/d/f", true, &file));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(file->write(0, "data"));
  ASSERT_TRUE(file->sync());
  EXPECT_FALSE(fs.crash_struck());
}

}  // namespace
}  // namespace dengine::testkit
