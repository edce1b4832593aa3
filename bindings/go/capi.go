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
	"strings"
	"time"
	"unsafe"
)

// Version is the version of the libdengine actually loaded ("0.1.0").
func Version() string { return C.GoString(C.dengine_version()) }

// call runs f, one C call returning a status, and on failure reads dengine's
// thread-local last error on the same OS thread.
func call(op string, f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rc := f()
	if rc == C.DENGINE_OK {
		return nil
	}
	// The last error reads "<code name>: <detail>"; Error names the code.
	message := C.GoString(C.dengine_last_error())
	message = strings.TrimPrefix(message, Code(rc).String()+": ")
	return newError(op, rc, message)
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
