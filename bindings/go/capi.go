package dengine

/*
#cgo pkg-config: dengine
#include <stdlib.h>
#include <dengine.h>
*/
import "C"

import (
	"context"
	"math"
	"time"
	"unsafe"
)

// Version is the version of the libdengine actually loaded ("0.2.0").
func Version() string { return C.GoString(C.dengine_version()) }

// call runs f, which passes message to one godengine_* wrapper of
// lasterror.h (a dengine function with no reply form) and returns its
// status. On failure the wrapper has copied dengine's thread-local last
// error ("function: why") into *message within that same cgo call, on the
// thread that failed, so no goroutine needs pinning to an OS thread.
// Requests do not need it: their replies carry the message.
func call(op string, f func(message **C.char) C.int) error {
	var message *C.char
	rc := f(&message)
	if rc == C.DENGINE_OK {
		return nil
	}
	defer C.free(unsafe.Pointer(message))
	return newError(op, rc, C.GoString(message))
}

// bytesPtr is the address of b's bytes for a C call that copies them: nil
// for a nil slice, non-nil for an empty one.
func bytesPtr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// timeoutOf is the time left before ctx's deadline, in whole milliseconds
// rounded up (so dengine gives up no earlier than ctx), or the longest
// timeout dengine takes when ctx has no deadline.
func timeoutOf(ctx context.Context) (C.uint32_t, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return math.MaxUint32, nil
	}
	left := time.Until(deadline)
	if left <= 0 {
		return 0, context.DeadlineExceeded
	}
	ms := (left + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		return math.MaxUint32, nil
	}
	return C.uint32_t(ms), nil
}
