#include "capi/log.h"

#include <cstdio>
#include <mutex>
#include <shared_mutex>

#include "capi/errors.h"
#include "dengine.h"

namespace dengine::capi {
namespace {

struct LogSink {
  dengine_log_fn fn = nullptr;  // nullptr: the stderr default
  void* user = nullptr;
  int min_level = DENGINE_LOG_WARN;
};

// Lines are sent under the shared lock, so once dengine_set_log_callback
// returns no thread is still inside the previous callback and its `user`
// may be released.
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

void log_line(int level, const char* message) noexcept {
  guarded("log_line", [&] {
    std::shared_lock lock(sink_mutex);
    if (level < sink.min_level) return;
    if (sink.fn != nullptr) {
      sink.fn(sink.user, level, message);
    } else {
      std::fprintf(stderr, "dengine: %s: %s\n", level_name(level), message);
    }
  });
}

}  // namespace dengine::capi

extern "C" void dengine_set_log_callback(dengine_log_fn fn, void* user,
                                         int min_level) {
  using dengine::capi::sink;
  dengine::capi::guarded("dengine_set_log_callback", [&] {
    std::unique_lock lock(dengine::capi::sink_mutex);
    if (fn == nullptr) {
      sink = {};
    } else {
      sink = {fn, user, min_level};
    }
  });
}
