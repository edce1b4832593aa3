package dengine

/*
#cgo pkg-config: dengine
#include <dengine.h>
*/
import "C"

import (
	"context"
	"math"
	"runtime"
	"time"
	"unsafe"
)

// Version is the version of the libdengine actually loaded ("0.2.0").
func Version() string { return C.GoString(C.dengine_version()) }

// call runs f, one C call returning a status that has no reply form, and on
// failure reads dengine's thread-local last error ("function: why") on the
// same OS thread. Requests do not need it: their replies carry the message.
func call(op string, f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f()
	if rc == C.DENGINE_OK {
		return nil
	}
	return newError(op, rc, C.GoString(C.dengine_last_error()))
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
