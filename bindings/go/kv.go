package dengine

/*
#include <dengine.h>
*/
import "C"

import (
	"bytes"
	"context"
	"time"
)

// The KV helpers below work on a node running the built-in KV machine
// (Config.StateMachine nil; ErrUnsupported otherwise). Writes go to the
// leader (elsewhere: a *NotLeaderError); keys are non-empty. They honour
// ctx like Propose: its deadline bounds the call inside dengine, and when
// ctx ends first the error is ctx.Err() and a write may still be applied.

// Put sets key to value.
func (n *Node) Put(ctx context.Context, key, value []byte) error {
	key, value = bytes.Clone(key), bytes.Clone(value)
	return n.blocking(ctx, "Put", func(node *C.dengine_node, timeout C.uint32_t) C.int {
		return C.dengine_kv_put(node, bytesPtr(key), C.size_t(len(key)), bytesPtr(value),
			C.size_t(len(value)), nil, timeout)
	})
}

// PutTTL sets key to value until ttl (> 0, whole milliseconds) after the
// leader's clock at proposal. Expiry is decided by the replicated log, so
// every replica expires the key at the same point.
func (n *Node) PutTTL(ctx context.Context, key, value []byte, ttl time.Duration) error {
	key, value = bytes.Clone(key), bytes.Clone(value)
	ms := ttlMillis(ttl)
	return n.blocking(ctx, "PutTTL", func(node *C.dengine_node, timeout C.uint32_t) C.int {
		return C.dengine_kv_put_ttl(node, bytesPtr(key), C.size_t(len(key)), bytesPtr(value),
			C.size_t(len(value)), ms, nil, timeout)
	})
}

// Delete removes key and reports whether it existed.
func (n *Node) Delete(ctx context.Context, key []byte) (existed bool, err error) {
	key = bytes.Clone(key)
	var found C.int
	err = n.blocking(ctx, "Delete", func(node *C.dengine_node, timeout C.uint32_t) C.int {
		return C.dengine_kv_delete(node, bytesPtr(key), C.size_t(len(key)), nil, timeout, &found)
	})
	if err != nil {
		return false, err
	}
	return found != 0, nil
}

// CompareAndSwap sets key to value if it holds expected (expected nil: if
// it is absent) and reports whether it did.
func (n *Node) CompareAndSwap(ctx context.Context, key, expected, value []byte) (swapped bool, err error) {
	key, expected, value = bytes.Clone(key), bytes.Clone(expected), bytes.Clone(value)
	var ok C.int
	err = n.blocking(ctx, "CompareAndSwap", func(node *C.dengine_node, timeout C.uint32_t) C.int {
		return C.dengine_kv_cas(node, bytesPtr(key), C.size_t(len(key)), bytesPtr(expected),
			C.size_t(len(expected)), bytesPtr(value), C.size_t(len(value)), nil, timeout, &ok)
	})
	if err != nil {
		return false, err
	}
	return ok != 0, nil
}

// Get returns key's value, or ErrNotFound.
func (n *Node) Get(ctx context.Context, key []byte, c Consistency) ([]byte, error) {
	key = bytes.Clone(key)
	var value []byte
	err := n.blocking(ctx, "Get", func(node *C.dengine_node, timeout C.uint32_t) C.int {
		var p *C.uint8_t
		var size C.size_t
		rc := C.dengine_kv_get(node, bytesPtr(key), C.size_t(len(key)), C.int(c), timeout, &p, &size)
		if rc == C.DENGINE_OK {
			value = goBytesFree(p, size)
		}
		return rc
	})
	if err != nil {
		return nil, err
	}
	return value, nil
}

// GetMulti reads several keys from one consistent view, in order; an
// absent key's Item has Found false.
func (n *Node) GetMulti(ctx context.Context, keys [][]byte, c Consistency) ([]Item, error) {
	keys = cloneAll(keys)
	var items []Item
	err := n.blocking(ctx, "GetMulti", func(node *C.dengine_node, timeout C.uint32_t) C.int {
		ck := newCKeys(keys)
		defer ck.free()
		var out C.dengine_kv_items
		rc := C.dengine_kv_get_multi(node, ck.ptrs, ck.lens, ck.n, C.int(c), timeout, &out)
		if rc == C.DENGINE_OK {
			items, _ = itemsOf(&out)
		}
		return rc
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

// ScanPrefix returns up to limit (>= 1) keys starting with prefix, in byte
// order, and whether more matched.
func (n *Node) ScanPrefix(ctx context.Context, prefix []byte, limit int, c Consistency) ([]Item, bool, error) {
	prefix = bytes.Clone(prefix)
	var items []Item
	var more bool
	err := n.blocking(ctx, "ScanPrefix", func(node *C.dengine_node, timeout C.uint32_t) C.int {
		var out C.dengine_kv_items
		rc := C.dengine_kv_scan_prefix(node, bytesPtr(prefix), C.size_t(len(prefix)),
			clampLimit(limit), C.int(c), timeout, &out)
		if rc == C.DENGINE_OK {
			items, more = itemsOf(&out)
		}
		return rc
	})
	if err != nil {
		return nil, false, err
	}
	return items, more, nil
}

// ttlMillis rounds a positive TTL up to whole milliseconds; dengine refuses
// 0, which is what a non-positive one becomes.
func ttlMillis(ttl time.Duration) C.uint64_t {
	if ttl <= 0 {
		return 0
	}
	return C.uint64_t((ttl + time.Millisecond - 1) / time.Millisecond)
}

// clampLimit maps limit to C; dengine refuses 0, which is what a
// non-positive one becomes.
func clampLimit(limit int) C.uint32_t {
	switch {
	case limit <= 0:
		return 0
	case int64(limit) > int64(^uint32(0)):
		return C.uint32_t(^uint32(0))
	}
	return C.uint32_t(limit)
}

// cloneAll deep-copies keys.
func cloneAll(keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = bytes.Clone(k)
	}
	return out
}
