package dengine

/*
#include <stdlib.h>
#include <dengine.h>
*/
import "C"

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Client talks to a standalone cluster (dengined, or nodes started with
// Config.ClientAddress) over TCP: it finds the leader, follows redirects and
// retries after a timeout, a lost connection or a leader change, within its
// timeout. Each write carries the client's session (opened before the
// first write, and again once the cluster let it expire), so a retried
// write is applied once; a write that still ends in ErrTimeout, ErrIO or
// ErrSessionExpired may or may not have been applied.
//
// Methods are safe for concurrent use but run one at a time (open one
// Client per goroutine for concurrency). Each call is bounded by the
// client's timeout, not by ctx's deadline: when ctx ends first the method
// returns ctx.Err() and the call finishes in the background, delaying the
// client's next call.
type Client struct {
	mu     sync.RWMutex // shared by calls, exclusive in Close (which frees c)
	client *C.dengine_client
}

// OpenClient opens a client of the servers at endpoints ("host:port" client
// addresses). timeout bounds each call, retries included (0: 30 s). It
// connects lazily, on the first call.
func OpenClient(endpoints []string, timeout time.Duration) (*Client, error) {
	list := C.CString(strings.Join(endpoints, ","))
	defer C.free(unsafe.Pointer(list))
	var c *C.dengine_client
	err := call("OpenClient", func() C.int {
		return C.dengine_client_open(list, C.uint32_t(timeout/time.Millisecond), &c)
	})
	if err != nil {
		return nil, err
	}
	return &Client{client: c}, nil
}

// Close waits for calls in progress and releases the client. Closing a
// closed client does nothing.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	C.dengine_client_close(c.client)
	c.client = nil
	return nil
}

// do runs f, a blocking client call, as await does.
func (c *Client) do(ctx context.Context, op string, f func(client *C.dengine_client) C.int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	if c.client == nil {
		c.mu.RUnlock()
		return &Error{Code: CodeShuttingDown, Op: op, Message: "the client is closed"}
	}
	client := c.client
	return await(ctx, func() error {
		defer c.mu.RUnlock()
		return call(op, func() C.int { return f(client) })
	})
}

// Put sets key to value.
func (c *Client) Put(ctx context.Context, key, value []byte) error {
	key, value = bytes.Clone(key), bytes.Clone(value)
	return c.do(ctx, "Put", func(client *C.dengine_client) C.int {
		return C.dengine_client_put(client, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)))
	})
}

// PutTTL sets key to value until ttl after the leader's clock.
func (c *Client) PutTTL(ctx context.Context, key, value []byte, ttl time.Duration) error {
	key, value = bytes.Clone(key), bytes.Clone(value)
	ms := ttlMillis(ttl)
	return c.do(ctx, "PutTTL", func(client *C.dengine_client) C.int {
		return C.dengine_client_put_ttl(client, bytesPtr(key), C.size_t(len(key)), bytesPtr(value), C.size_t(len(value)), ms)
	})
}

// Delete removes key and reports whether it existed.
func (c *Client) Delete(ctx context.Context, key []byte) (bool, error) {
	key = bytes.Clone(key)
	var found C.int
	err := c.do(ctx, "Delete", func(client *C.dengine_client) C.int {
		return C.dengine_client_delete(client, bytesPtr(key), C.size_t(len(key)), &found)
	})
	if err != nil {
		return false, err
	}
	return found != 0, nil
}

// CompareAndSwap sets key to value if it holds expected (nil: if absent).
func (c *Client) CompareAndSwap(ctx context.Context, key, expected, value []byte) (bool, error) {
	key, expected, value = bytes.Clone(key), bytes.Clone(expected), bytes.Clone(value)
	var ok C.int
	err := c.do(ctx, "CompareAndSwap", func(client *C.dengine_client) C.int {
		return C.dengine_client_cas(client, bytesPtr(key), C.size_t(len(key)), bytesPtr(expected),
			C.size_t(len(expected)), bytesPtr(value), C.size_t(len(value)), &ok)
	})
	if err != nil {
		return false, err
	}
	return ok != 0, nil
}

// Get returns key's value, or ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte, consistency Consistency) ([]byte, error) {
	key = bytes.Clone(key)
	var value []byte
	err := c.do(ctx, "Get", func(client *C.dengine_client) C.int {
		var p *C.uint8_t
		var size C.size_t
		rc := C.dengine_client_get(client, bytesPtr(key), C.size_t(len(key)), C.int(consistency), &p, &size)
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

// GetMulti reads several keys from one consistent view, in order.
func (c *Client) GetMulti(ctx context.Context, keys [][]byte, consistency Consistency) ([]Item, error) {
	keys = cloneAll(keys)
	var items []Item
	err := c.do(ctx, "GetMulti", func(client *C.dengine_client) C.int {
		ck := newCKeys(keys)
		defer ck.free()
		var out C.dengine_kv_items
		rc := C.dengine_client_get_multi(client, ck.ptrs, ck.lens, ck.n, C.int(consistency), &out)
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

// ScanPrefix returns up to limit keys starting with prefix, in byte order,
// and whether more matched.
func (c *Client) ScanPrefix(ctx context.Context, prefix []byte, limit int, consistency Consistency) ([]Item, bool, error) {
	prefix = bytes.Clone(prefix)
	var items []Item
	var more bool
	err := c.do(ctx, "ScanPrefix", func(client *C.dengine_client) C.int {
		var out C.dengine_kv_items
		rc := C.dengine_client_scan_prefix(client, bytesPtr(prefix), C.size_t(len(prefix)),
			clampLimit(limit), C.int(consistency), &out)
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

// Propose sends command to the cluster's application machine and returns
// its result.
func (c *Client) Propose(ctx context.Context, command []byte) (Result, error) {
	command = bytes.Clone(command)
	var result Result
	err := c.do(ctx, "Propose", func(client *C.dengine_client) C.int {
		var r C.dengine_reply
		defer C.dengine_reply_free(&r)
		rc := C.dengine_client_propose(client, bytesPtr(command), C.size_t(len(command)), &r)
		if rc == C.DENGINE_OK {
			got := replyOf(rc, &r)
			result = Result{Status: got.result, Data: got.data}
		}
		return rc
	})
	if err != nil {
		return Result{}, err
	}
	return result, nil
}

// Read answers query through the application machine at consistency.
func (c *Client) Read(ctx context.Context, query []byte, consistency Consistency) ([]byte, error) {
	query = bytes.Clone(query)
	var answer []byte
	err := c.do(ctx, "Read", func(client *C.dengine_client) C.int {
		var r C.dengine_reply
		defer C.dengine_reply_free(&r)
		rc := C.dengine_client_read(client, bytesPtr(query), C.size_t(len(query)), C.int(consistency), &r)
		if rc == C.DENGINE_OK {
			answer = replyOf(rc, &r).data
		}
		return rc
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// Status is the answering server's view (the leader's once found); member
// addresses are peer addresses.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var status Status
	err := c.do(ctx, "Status", func(client *C.dengine_client) C.int {
		var s C.dengine_status
		rc := C.dengine_client_status(client, &s)
		if rc == C.DENGINE_OK {
			status = statusOf(&s)
			C.dengine_status_free(&s)
		}
		return rc
	})
	if err != nil {
		return Status{}, err
	}
	return status, nil
}

// AddLearner adds node id, at peer address, as a learner.
func (c *Client) AddLearner(ctx context.Context, id uint64, address string) error {
	return c.do(ctx, "AddLearner", func(client *C.dengine_client) C.int {
		a := C.CString(address)
		defer C.free(unsafe.Pointer(a))
		return C.dengine_client_add_learner(client, C.uint64_t(id), a)
	})
}

// Promote makes learner id a voter once it has caught up.
func (c *Client) Promote(ctx context.Context, id uint64) error {
	return c.do(ctx, "Promote", func(client *C.dengine_client) C.int {
		return C.dengine_client_promote(client, C.uint64_t(id))
	})
}

// Remove removes member id.
func (c *Client) Remove(ctx context.Context, id uint64) error {
	return c.do(ctx, "Remove", func(client *C.dengine_client) C.int {
		return C.dengine_client_remove(client, C.uint64_t(id))
	})
}

// TransferLeadership hands leadership to voter to (0: the most caught-up).
func (c *Client) TransferLeadership(ctx context.Context, to uint64) error {
	return c.do(ctx, "TransferLeadership", func(client *C.dengine_client) C.int {
		return C.dengine_client_transfer_leadership(client, C.uint64_t(to))
	})
}

// Snapshot takes a snapshot on the leader and returns its last index.
func (c *Client) Snapshot(ctx context.Context) (uint64, error) {
	var index C.uint64_t
	err := c.do(ctx, "Snapshot", func(client *C.dengine_client) C.int {
		return C.dengine_client_snapshot(client, &index)
	})
	if err != nil {
		return 0, err
	}
	return uint64(index), nil
}
