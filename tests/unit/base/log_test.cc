// The process-wide log sink: what reaches an installed sink, at which level,
// and that removing it restores the default.
#include "base/log.h"

#include <gtest/gtest.h>

#include "log_capture.h"

namespace dengine::base {
namespace {

TEST(LogSink, DeliversLinesAtOrAboveItsLevel) {
  LogCapture capture(DENGINE_LOG_INFO);
  log_line(DENGINE_LOG_DEBUG, "too detailed");
  log_line(DENGINE_LOG_INFO, "started");
  log_line(DENGINE_LOG_ERROR, "failed");
  const std::vector<LogCapture::Line> lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].level, DENGINE_LOG_INFO);
  EXPECT_EQ(lines[0].message, "started");
  EXPECT_EQ(lines[1].level, DENGINE_LOG_ERROR);
  EXPECT_EQ(lines[1].message, "failed");
}

TEST(LogSink, EnabledFollowsTheInstalledLevel) {
  {
    LogCapture capture(DENGINE_LOG_DEBUG);
    EXPECT_TRUE(log_enabled(DENGINE_LOG_DEBUG));
  }
  // The default: WARN and above, to stderr.
  EXPECT_FALSE(log_enabled(DENGINE_LOG_INFO));
  EXPECT_TRUE(log_enabled(DENGINE_LOG_WARN));
}

TEST(LogSink, ARemovedSinkReceivesNothing) {
  std::vector<LogCapture::Line> lines;
  {
    LogCapture capture;
    log_line(DENGINE_LOG_WARN, "while installed");
    lines = capture.lines();
  }
  log_line(DENGINE_LOG_WARN, "after removal (to stderr)");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].message, "while installed");
}

}  // namespace
}  // namespace dengine::base
