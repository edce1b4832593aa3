package dengine

import (
	"runtime/cgo"
	"sync/atomic"
)

// C holds Go values only as cgo handles. Every handle is created here and
// deleted here, and the count of live ones lets tests prove none leak.
var liveHandles atomic.Int64

func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}
