package dengine

/*
#include <stdlib.h>
#include "lasterror.h"
*/
import "C"

import "unsafe"

// The built-in KV machines' codec (dengine_kv_encode_*, dengine_kv_decode_*):
// a KV operation is an encoded command proposed, or an encoded query read,
// and its reply decoded, on a Node and through a Client alike. The codec has
// no reply form, so its errors come through call and the lasterror.h
// wrappers; op names the operation.

// Item is a key and its value as reads return them.
type Item struct {
	Key   []byte
	Value []byte
	Found bool // GetMulti: false when the key is absent
}

func encodePut(op string, key, value []byte, ttlMillis uint64) ([]byte, error) {
	return encoded(op, func(out **C.uint8_t, n *C.size_t, m **C.char) C.int {
		return C.godengine_kv_encode_put(bytesPtr(key), C.size_t(len(key)), bytesPtr(value),
			C.size_t(len(value)), C.uint64_t(ttlMillis), out, n, m)
	})
}

func encodeDelete(op string, key []byte) ([]byte, error) {
	return encoded(op, func(out **C.uint8_t, n *C.size_t, m **C.char) C.int {
		return C.godengine_kv_encode_delete(bytesPtr(key), C.size_t(len(key)), out, n, m)
	})
}

// encodeCAS: expected nil means "if absent" (an empty non-nil one, "if
// empty").
func encodeCAS(op string, key, expected, value []byte) ([]byte, error) {
	return encoded(op, func(out **C.uint8_t, n *C.size_t, m **C.char) C.int {
		return C.godengine_kv_encode_cas(bytesPtr(key), C.size_t(len(key)), bytesPtr(expected),
			C.size_t(len(expected)), bytesPtr(value), C.size_t(len(value)), out, n, m)
	})
}

func encodeGet(op string, key []byte) ([]byte, error) {
	return encoded(op, func(out **C.uint8_t, n *C.size_t, m **C.char) C.int {
		return C.godengine_kv_encode_get(bytesPtr(key), C.size_t(len(key)), out, n, m)
	})
}

func encodeGetMulti(op string, keys [][]byte) ([]byte, error) {
	ck := newCKeys(keys)
	defer ck.free()
	return encoded(op, func(out **C.uint8_t, n *C.size_t, m **C.char) C.int {
		return C.godengine_kv_encode_get_multi(ck.ptrs, ck.lens, ck.n, out, n, m)
	})
}

func encodeScanPrefix(op string, prefix []byte, limit int) ([]byte, error) {
	return encoded(op, func(out **C.uint8_t, n *C.size_t, m **C.char) C.int {
		return C.godengine_kv_encode_scan_prefix(bytesPtr(prefix), C.size_t(len(prefix)),
			clampLimit(limit), out, n, m)
	})
}

// decodeWrite reads a KV write's result: whether it took effect (false: a
// compare-and-swap found another value) and whether the key existed (put
// and delete: before; compare-and-swap: after).
func decodeWrite(op string, data []byte) (applied, existed bool, err error) {
	var a, e C.int
	err = call(op, func(m **C.char) C.int {
		return C.godengine_kv_decode_write(bytesPtr(data), C.size_t(len(data)), &a, &e, m)
	})
	return a != 0, e != 0, err
}

// decodeRead reads the answer to query: its items, and for a scan whether
// more keys matched.
func decodeRead(op string, query, answer []byte) ([]Item, bool, error) {
	var items C.dengine_kv_items
	err := call(op, func(m **C.char) C.int {
		return C.godengine_kv_decode_read(bytesPtr(query), C.size_t(len(query)), bytesPtr(answer),
			C.size_t(len(answer)), &items, m)
	})
	if err != nil {
		return nil, false, err
	}
	defer C.dengine_kv_items_free(&items)
	out := make([]Item, 0, int(items.count))
	for _, it := range unsafe.Slice(items.items, int(items.count)) {
		item := Item{Key: C.GoBytes(unsafe.Pointer(it.key), C.int(it.key_len)), Found: it.found != 0}
		if it.found != 0 {
			item.Value = C.GoBytes(unsafe.Pointer(it.value), C.int(it.value_len))
		}
		out = append(out, item)
	}
	return out, items.more != 0, nil
}

// encoded runs encode, one godengine_kv_encode_* call (as call runs it), and
// returns a Go copy of the bytes it made.
func encoded(op string, encode func(out **C.uint8_t, n *C.size_t, m **C.char) C.int) ([]byte, error) {
	var p *C.uint8_t
	var n C.size_t
	if err := call(op, func(m **C.char) C.int { return encode(&p, &n, m) }); err != nil {
		return nil, err
	}
	defer C.dengine_free(unsafe.Pointer(p))
	return C.GoBytes(unsafe.Pointer(p), C.int(n)), nil
}

// clampLimit maps a scan's limit to C; the encoder refuses 0, which is what
// a non-positive one becomes.
func clampLimit(limit int) C.uint32_t {
	switch {
	case limit <= 0:
		return 0
	case int64(limit) > int64(^uint32(0)):
		return C.uint32_t(^uint32(0))
	}
	return C.uint32_t(limit)
}

// cKeys copies keys into C memory for a call that takes an array of
// pointers (C must not read Go pointers out of Go memory).
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
