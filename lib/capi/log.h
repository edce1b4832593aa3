// The process-wide log sink behind dengine_set_log_callback. It lives in the
// C ABI layer for now, as its only caller is here; when the node layer starts
// logging it moves down to a layer every other one can reach.
#pragma once

namespace dengine::capi {

// Sends one line at `level` (DENGINE_LOG_*) to the installed callback, or,
// by default, WARN and above to stderr. Thread-safe.
void log_line(int level, const char* message) noexcept;

}  // namespace dengine::capi
