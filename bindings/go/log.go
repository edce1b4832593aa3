package dengine

/*
#include "callbacks.h"
*/
import "C"

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// loggerOverride is the logger set with SetLogger; nil: slog.Default().
var loggerOverride atomic.Pointer[slog.Logger]

func init() { SetLogger(nil) }

// SetLogger routes the log lines of every dengine node and client in the
// process to l, with the attribute component=dengine, at the levels l
// enables when SetLogger is called. nil (the initial setting) routes them
// to slog.Default() as it is when each line is logged. The binding's own
// messages (a failed state machine method) go to the same logger.
func SetLogger(l *slog.Logger) {
	loggerOverride.Store(l)
	if l == nil {
		l = slog.Default()
	}
	C.godengine_set_log_callback(1, minLevel(l))
}

func logger() *slog.Logger {
	if l := loggerOverride.Load(); l != nil {
		return l
	}
	return slog.Default()
}

func logError(message string, args ...any) {
	logger().Error(message, append(args, "component", "dengine")...)
}

// minLevel is the lowest dengine level l enables (above ERROR: none).
func minLevel(l *slog.Logger) C.int {
	for level := C.int(C.DENGINE_LOG_DEBUG); level <= C.DENGINE_LOG_ERROR; level++ {
		if l.Enabled(context.Background(), slogLevel(level)) {
			return level
		}
	}
	return C.DENGINE_LOG_ERROR + 1
}

func slogLevel(level C.int) slog.Level {
	switch level {
	case C.DENGINE_LOG_DEBUG:
		return slog.LevelDebug
	case C.DENGINE_LOG_INFO:
		return slog.LevelInfo
	case C.DENGINE_LOG_WARN:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// goLog receives a line from any dengine thread; message is valid only
// during the call.
//
//export goLog
func goLog(level C.int, message *C.char) {
	logger().Log(context.Background(), slogLevel(level), C.GoString(message),
		"component", "dengine")
}
