package dengine

/*
#include <stdlib.h>
#include <dengine.h>
*/
import "C"

import (
	"context"
	"unsafe"
)

// await runs f, a blocking C call, and returns its error, or ctx.Err() as
// soon as ctx ends: f then finishes on its own goroutine, so it must own
// its inputs and write its outputs only where the caller reads them after
// a nil error. Without a cancellable ctx, f runs on this goroutine.
func await(ctx context.Context, f func() error) error {
	if ctx.Done() == nil {
		return f()
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		select {
		case err := <-done:
			return err
		default:
			return ctx.Err()
		}
	}
}

// blocking runs f, a blocking C call on the node taking ctx's deadline as
// its timeout, as await does; Close waits for f to return.
func (n *Node) blocking(ctx context.Context, op string,
	f func(node *C.dengine_node, timeout C.uint32_t) C.int) error {
	timeout, err := timeoutOf(ctx)
	if err != nil {
		return err
	}
	node, err := n.enter(op)
	if err != nil {
		return err
	}
	return await(ctx, func() error {
		defer n.leave()
		return call(op, func() C.int { return f(node, timeout) })
	})
}

// cKeys copies keys into C memory for a call that takes an array of
// pointers (C must not hold Go pointers in memory it reads).
type cKeys struct {
	ptrs *unsafe.Pointer
	lens *C.size_t
	n    C.size_t
}

func newCKeys(keys [][]byte) cKeys {
	k := cKeys{n: C.size_t(len(keys))}
	if len(keys) == 0 {
		return k
	}
	k.ptrs = (*unsafe.Pointer)(C.calloc(k.n, C.size_t(unsafe.Sizeof(unsafe.Pointer(nil)))))
	k.lens = (*C.size_t)(C.calloc(k.n, C.size_t(unsafe.Sizeof(C.size_t(0)))))
	ptrs := unsafe.Slice(k.ptrs, len(keys))
	lens := unsafe.Slice(k.lens, len(keys))
	for i, key := range keys {
		ptrs[i] = C.CBytes(key)
		lens[i] = C.size_t(len(key))
	}
	return k
}

func (k cKeys) free() {
	if k.n == 0 {
		return
	}
	for _, p := range unsafe.Slice(k.ptrs, int(k.n)) {
		C.free(p)
	}
	C.free(unsafe.Pointer(k.ptrs))
	C.free(unsafe.Pointer(k.lens))
}

// Item is a key and its value as reads return them.
type Item struct {
	Key   []byte
	Value []byte
	Found bool // GetMulti: false when the key is absent
}

// itemsOf copies and frees C items.
func itemsOf(items *C.dengine_kv_items) ([]Item, bool) {
	defer C.dengine_kv_items_free(items)
	out := make([]Item, 0, int(items.count))
	for _, it := range unsafe.Slice(items.items, int(items.count)) {
		item := Item{Key: C.GoBytes(unsafe.Pointer(it.key), C.int(it.key_len)), Found: it.found != 0}
		if it.found != 0 {
			item.Value = C.GoBytes(unsafe.Pointer(it.value), C.int(it.value_len))
		}
		out = append(out, item)
	}
	return out, items.more != 0
}

// goBytesFree copies and frees a value dengine allocated.
func goBytesFree(p *C.uint8_t, n C.size_t) []byte {
	defer C.dengine_free(unsafe.Pointer(p))
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}
