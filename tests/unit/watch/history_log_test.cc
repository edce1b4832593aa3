// The watch history on disk: what is appended comes back after a reopen,
// segments stay bounded, and a torn, corrupt or gapped file gives back only
// what continues without a gap.
#include "watch/history_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dengine.h"

namespace dengine::watch {
namespace {

namespace fs = std::filesystem;

Event put(uint64_t revision, std::string key, std::string value,
          std::optional<std::string> prev = std::nullopt) {
  Event event;
  event.revision = revision;
  event.type = EventType::kPut;
  event.key = std::move(key);
  event.value = std::move(value);
  event.prev_value = std::move(prev);
  return event;
}

class HistoryLogTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "dengine-history-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern + "/watch";
  }
  void TearDown() override { fs::remove_all(fs::path(dir_).parent_path()); }

  HistoryLog::Restored reopen(HistoryLimits limits = {}) {
    log_.reset();
    HistoryLog::Restored restored;
    std::string error;
    EXPECT_EQ(HistoryLog::open(dir_, limits, &log_, &restored, &error),
              DENGINE_OK)
        << error;
    return restored;
  }

  std::vector<fs::path> segments() const {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
  std::unique_ptr<HistoryLog> log_;
};

TEST_F(HistoryLogTest, WhatIsAppendedComesBackAfterAReopen) {
  EXPECT_FALSE(reopen().found);  // a new directory holds nothing
  log_->reset(0);
  log_->append({put(1, "a", "1"), put(1, "b", "2")}, 1);
  log_->append({}, 3);  // entries without events still advance it
  Event removed;
  removed.revision = 4;
  removed.type = EventType::kMemberAdded;
  removed.node_id = 7;
  removed.address = "10.0.0.7:7007";
  log_->append({put(4, "a", "3", "1"), removed}, 4);

  HistoryLog::Restored restored = reopen();
  ASSERT_TRUE(restored.found);
  EXPECT_EQ(restored.available_from, 1u);
  EXPECT_EQ(restored.covered_to, 4u);
  ASSERT_EQ(restored.events.size(), 4u);
  EXPECT_EQ(restored.events[1].key, "b");
  EXPECT_EQ(restored.events[2].prev_value, std::optional<std::string>("1"));
  EXPECT_FALSE(restored.events[0].prev_value.has_value());
  EXPECT_EQ(restored.events[3].type, EventType::kMemberAdded);
  EXPECT_EQ(restored.events[3].address, "10.0.0.7:7007");

  // It carries on across a second reopen, in a new segment.
  log_->append({put(5, "c", "4")}, 5);
  restored = reopen();
  EXPECT_EQ(restored.covered_to, 5u);
  EXPECT_EQ(restored.events.size(), 5u);
}

TEST_F(HistoryLogTest, ResetStartsAgainAfterTheIndex) {
  reopen();
  log_->reset(0);
  log_->append({put(1, "a", "1")}, 1);
  log_->reset(40);
  log_->append({put(41, "b", "2")}, 41);
  HistoryLog::Restored restored = reopen();
  ASSERT_TRUE(restored.found);
  EXPECT_EQ(restored.available_from, 41u);
  EXPECT_EQ(restored.covered_to, 41u);
  ASSERT_EQ(restored.events.size(), 1u);
  EXPECT_EQ(restored.events[0].key, "b");
}

TEST_F(HistoryLogTest, OldSegmentsGoOnceTheNewerOnesFillTheHistory) {
  const HistoryLimits limits{64, 1 << 20};
  reopen(limits);
  log_->reset(0);
  for (uint64_t i = 1; i <= 1000; ++i) {
    log_->append({put(i, "k" + std::to_string(i), "v")}, i);
  }
  // Segments of 16 events; the newer ones hold at least the 64 kept.
  EXPECT_LE(segments().size(), 6u);
  HistoryLog::Restored restored = reopen(limits);
  ASSERT_TRUE(restored.found);
  EXPECT_EQ(restored.covered_to, 1000u);
  ASSERT_GE(restored.events.size(), 64u);
  EXPECT_LE(restored.events.size(), 100u);
  // Contiguous from available_from to the end.
  EXPECT_EQ(restored.events.front().revision, restored.available_from);
  for (size_t i = 1; i < restored.events.size(); ++i) {
    EXPECT_EQ(restored.events[i].revision, restored.events[i - 1].revision + 1);
  }
  EXPECT_EQ(restored.events.back().revision, 1000u);
}

TEST_F(HistoryLogTest, ATornTailIsCut) {
  reopen();
  log_->reset(0);
  log_->append({put(1, "a", "1")}, 1);
  log_->append({put(2, "b", "2")}, 2);
  log_.reset();
  const fs::path last = segments().back();
  fs::resize_file(last, fs::file_size(last) - 3);
  HistoryLog::Restored restored = reopen();
  ASSERT_TRUE(restored.found);
  EXPECT_EQ(restored.covered_to, 1u);
  ASSERT_EQ(restored.events.size(), 1u);
  // Reading it again gives the same, and appends continue from there.
  log_->append({put(2, "c", "3")}, 2);
  restored = reopen();
  EXPECT_EQ(restored.covered_to, 2u);
  ASSERT_EQ(restored.events.size(), 2u);
  EXPECT_EQ(restored.events[1].key, "c");
}

TEST_F(HistoryLogTest, ACorruptSegmentLeavesOnlyWhatFollowsWithoutAGap) {
  const HistoryLimits limits{64, 1 << 20};
  reopen(limits);
  log_->reset(0);
  for (uint64_t i = 1; i <= 40; ++i) {
    log_->append({put(i, "k", "v" + std::to_string(i))}, i);
  }
  log_.reset();
  // Flip a byte in the middle of the first segment.
  const fs::path first = segments().front();
  {
    std::fstream file(first, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(first) / 2));
    file.put('\x5a');
  }
  HistoryLog::Restored restored = reopen(limits);
  ASSERT_TRUE(restored.found);
  EXPECT_EQ(restored.covered_to, 40u);
  EXPECT_GT(restored.available_from, 1u);
  EXPECT_EQ(restored.events.front().revision, restored.available_from);
  EXPECT_EQ(restored.events.back().revision, 40u);
}

}  // namespace
}  // namespace dengine::watch
