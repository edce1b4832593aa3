// The process-wide log sink, behind dengine_set_log_callback (lib/capi/
// forwards to set_log_sink): nodes, storage, state machines and the network
// all write here; a host routes the lines into its own logging.
#pragma once

#include <string>

#include "dengine.h"

namespace dengine::base {

// Sends one line at `level` (DENGINE_LOG_*) to the installed sink, or, by
// default, WARN and above to stderr. Thread-safe; never throws.
void log_line(int level, const std::string& message) noexcept;
bool log_enabled(int level) noexcept;

// Installs `fn` (nullptr: the stderr default) for lines at `min_level` and
// above. Once it returns no thread is still inside the previous sink, so its
// `user` may be released.
void set_log_sink(dengine_log_fn fn, void* user, int min_level);

}  // namespace dengine::base
