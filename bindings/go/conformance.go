package dengine

/*
#include <stdlib.h>
#include "callbacks.h"
#include "lasterror.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"

	"dengine.dev/dengine/internal/suite"
)

func init() { suite.Run = runSuite }

// runSuite runs dengine_sm_conformance_run (or the performance run) with a
// builder whose callbacks call b. Every callback runs on this goroutine.
func runSuite(b suite.Builder, dir string, performance bool) (string, error) {
	h := newHandle(&b)
	defer deleteHandle(h)
	builder := (*C.dengine_sm_builder)(C.calloc(1, C.sizeof_dengine_sm_builder))
	defer C.free(unsafe.Pointer(builder))
	C.godengine_fill_builder(builder, C.uintptr_t(h), cBool(b.Command != nil),
		cBool(b.StateQuery != nil))
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	var report *C.char
	op := "Conformance"
	if performance {
		op = "Performance"
	}
	err := call(op, func(m **C.char) C.int {
		if performance {
			return C.godengine_sm_performance_run(builder, cdir, &report, m)
		}
		return C.godengine_sm_conformance_run(builder, cdir, &report, m)
	})
	defer C.dengine_free(unsafe.Pointer(report))
	return C.GoString(report), err
}

func builderOf(h C.uintptr_t) *suite.Builder {
	return cgo.Handle(h).Value().(*suite.Builder)
}

//export goBuilderOpen
func goBuilderOpen(h C.uintptr_t, path *C.char, out *C.dengine_state_machine) (rc C.int) {
	defer func() {
		if p := recover(); p != nil {
			logError("conformance: Open panicked", "panic", p)
			rc = C.DENGINE_ERR_STATE_MACHINE
		}
	}()
	opened, err := builderOf(h).Open(C.GoString(path))
	if err != nil {
		logError("conformance: Open failed", "err", err)
		return codeOf(err)
	}
	sm, ok := opened.(StateMachine)
	if !ok {
		logError("conformance: Open returned no state machine",
			"type", fmt.Sprintf("%T", opened))
		return C.DENGINE_ERR_INVALID_ARGUMENT
	}
	bindMachine(sm, out)
	return C.DENGINE_OK
}

//export goBuilderClose
func goBuilderClose(h C.uintptr_t, out *C.dengine_state_machine) {
	mh := cgo.Handle(C.godengine_machine_handle(out))
	if b := builderOf(h); b.Close != nil {
		b.Close(mh.Value().(*machine).sm)
	}
	deleteHandle(mh)
}

// fillBuffer copies b into buf[0:capacity) if it fits and returns len(b), the
// contract of make_command and make_state_query (as with snprintf).
func fillBuffer(b []byte, buf *C.uint8_t, capacity C.size_t) C.size_t {
	if len(b) <= int(capacity) && len(b) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(b)), b)
	}
	return C.size_t(len(b))
}

//export goBuilderCommand
func goBuilderCommand(h C.uintptr_t, n C.uint64_t, buf *C.uint8_t, capacity C.size_t) C.size_t {
	return fillBuffer(builderOf(h).Command(uint64(n)), buf, capacity)
}

//export goBuilderStateQuery
func goBuilderStateQuery(h C.uintptr_t, buf *C.uint8_t, capacity C.size_t) C.size_t {
	return fillBuffer(builderOf(h).StateQuery, buf, capacity)
}
