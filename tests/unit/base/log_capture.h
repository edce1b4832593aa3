// Captures what the process-wide log sink (base/log.h) receives while it
// lives, then puts the stderr default back: tests assert on the lines a
// recovery or refusal writes.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "dengine.h"

namespace dengine::base {

class LogCapture {
 public:
  struct Line {
    int level;
    std::string message;
  };

  explicit LogCapture(int min_level = DENGINE_LOG_DEBUG) {
    set_log_sink(&LogCapture::receive, this, min_level);
  }
  ~LogCapture() { set_log_sink(nullptr, nullptr, DENGINE_LOG_WARN); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<Line> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

  // The lines at `level` that contain every one of `fragments`.
  std::vector<std::string> find(
      int level, const std::vector<std::string_view>& fragments) const {
    std::vector<std::string> found;
    for (const Line& line : lines()) {
      if (line.level != level) continue;
      bool all = true;
      for (std::string_view fragment : fragments) {
        all = all && line.message.find(fragment) != std::string::npos;
      }
      if (all) found.push_back(line.message);
    }
    return found;
  }

 private:
  static void receive(void* user, int level, const char* message) {
    auto* self = static_cast<LogCapture*>(user);
    std::lock_guard lock(self->mutex_);
    self->lines_.push_back({level, message});
  }

  mutable std::mutex mutex_;
  std::vector<Line> lines_;
};

}  // namespace dengine::base
