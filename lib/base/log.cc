#include "base/log.h"

#include <cstdio>
#include <mutex>
#include <shared_mutex>

namespace dengine::base {
namespace {

struct LogSink {
  dengine_log_fn fn = nullptr;  // nullptr: the stderr default
  void* user = nullptr;
  int min_level = DENGINE_LOG_WARN;
};

// Lines are sent under the shared lock, so once set_log_sink returns no
// thread is still inside the previous callback.
std::shared_mutex sink_mutex;
LogSink sink;

const char* level_name(int level) {
  switch (level) {
    case DENGINE_LOG_DEBUG:
      return "debug";
    case DENGINE_LOG_INFO:
      return "info";
    case DENGINE_LOG_WARN:
      return "warn";
    default:
      return "error";
  }
}

}  // namespace

bool log_enabled(int level) noexcept {
  std::shared_lock lock(sink_mutex);
  return level >= sink.min_level;
}

void log_line(int level, const std::string& message) noexcept {
  std::shared_lock lock(sink_mutex);
  if (level < sink.min_level) return;
  if (sink.fn != nullptr) {
    sink.fn(sink.user, level, message.c_str());
  } else {
    std::fprintf(stderr, "dengine: %s: %s\n", level_name(level),
                 message.c_str());
  }
}

void set_log_sink(dengine_log_fn fn, void* user, int min_level) {
  std::unique_lock lock(sink_mutex);
  sink = fn == nullptr ? LogSink{} : LogSink{fn, user, min_level};
}

}  // namespace dengine::base
