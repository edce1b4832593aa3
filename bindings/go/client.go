package dengine

/*
#include <stdlib.h>
#include "callbacks.h"
#include "lasterror.h"
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
// Client per goroutine for concurrency). Each returns ctx.Err() as soon as
// ctx is cancelled or its deadline passes, and the C call then finishes in
// the background, delaying the client's next call. Inside dengine,
// Propose, Read and the KV methods are bounded by ctx's deadline or the
// client's timeout, whichever comes first (a deadline dengine reaches first
// is an ErrTimeout, which matches context.DeadlineExceeded); Status, the
// membership calls and Snapshot, which run as dengine's async client calls
// and take no timeout of their own, by the client's timeout only.
//
// Watch is the exception to both: its start, bounded by the client's
// timeout, and then its watch run beside the other calls, on connections
// of their own, neither waiting for the other (see Client.Watch).
//
// The KV methods send the built-in KV machine's encoded commands as
// proposals and queries flagged as KV, so a cluster running an application
// machine refuses them with ErrUnsupported instead of applying them.
type Client struct {
	// mu is held shared by a blocking call until it returns, by an async one
	// only while it is handed to the client's call thread, and exclusively
	// by Close, which frees client: for async calls already handed over,
	// dengine_client_close waits for the one running and ends the others.
	mu      sync.RWMutex
	client  *C.dengine_client // nil once closed
	timeout time.Duration     // the client's bound on each call

	watches sync.WaitGroup // the running Watchers: Close waits for them
	// closing is closed as Close begins, so that a watch waiting for room
	// in its channel gives up and dengine_client_close can end it.
	closing   chan struct{}
	closeOnce sync.Once
}

// ClientTLS is how a Client speaks TLS (docs/operations.md, "TLS"): the
// servers' certificates must chain to CAFile and carry ServerName ("": the
// host of each endpoint); CertFile and KeyFile (both or neither) are the
// client's own certificate, whose common name is its identity, for servers
// that require one. MinVersion: "1.3" ("": the default) or "1.2".
type ClientTLS struct {
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string
	MinVersion string
}

// OpenClient opens a client of the servers at endpoints ("host:port" client
// addresses). timeout bounds each call, retries included (0: 30 s). It
// connects lazily, on the first call.
func OpenClient(endpoints []string, timeout time.Duration) (*Client, error) {
	return OpenTLSClient(endpoints, timeout, nil)
}

// OpenTLSClient is OpenClient over TLS (tls nil: plaintext). It reads the
// files at once: a bad one is an ErrInvalidArgument naming it. A handshake
// that fails later fails the call with ErrIO and the reason; an admin call
// the server refuses to the client's certificate fails with
// ErrPermissionDenied.
func OpenTLSClient(endpoints []string, timeout time.Duration, tls *ClientTLS) (*Client, error) {
	list := C.CString(strings.Join(endpoints, ","))
	defer C.free(unsafe.Pointer(list))
	var c *C.dengine_client
	err := call("OpenClient", func(m **C.char) C.int {
		ms := C.uint32_t(timeout / time.Millisecond)
		if tls == nil {
			return C.godengine_client_open(list, ms, &c, m)
		}
		var options C.dengine_client_tls
		options.version = C.DENGINE_CLIENT_TLS_VERSION
		options.struct_size = C.uint32_t(unsafe.Sizeof(options))
		fields := []struct {
			value string
			field **C.char
		}{
			{tls.CAFile, &options.ca_file},
			{tls.CertFile, &options.cert_file},
			{tls.KeyFile, &options.key_file},
			{tls.ServerName, &options.server_name},
			{tls.MinVersion, &options.min_version},
		}
		for _, s := range fields {
			if s.value != "" {
				*s.field = C.CString(s.value)
				defer C.free(unsafe.Pointer(*s.field))
			}
		}
		return C.godengine_client_open_tls(list, ms, &options, &c, m)
	})
	if err != nil {
		return nil, err
	}
	if timeout/time.Millisecond == 0 {
		timeout = C.DENGINE_DEFAULT_TIMEOUT_MS * time.Millisecond
	}
	return &Client{client: c, timeout: timeout, closing: make(chan struct{})}, nil
}

// Close waits for the call in progress (and for a Watch still starting),
// ends the Status, membership and Snapshot calls still queued behind it
// with ErrShuttingDown, ends every Watcher started through the client
// with ErrShuttingDown, their channels closed when it returns, and
// releases the client. Closing a closed client does nothing.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	c.mu.Lock()
	C.dengine_client_close(c.client) // ends the watches: their on_end has run
	c.client = nil
	c.mu.Unlock()
	c.watches.Wait()
	return nil
}

// do runs f, a blocking call on the client, and returns its error, or
// ctx.Err() as soon as ctx ends: f then finishes on its own goroutine, so
// it must own its inputs and write its outputs only where the caller reads
// them after a nil error. Without a cancellable ctx, f runs on this
// goroutine. Close waits for f to return.
func (c *Client) do(ctx context.Context, op string, f func(client *C.dengine_client) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	if c.client == nil {
		c.mu.RUnlock()
		return errClosed(op)
	}
	client := c.client
	run := func() error {
		defer c.mu.RUnlock()
		return f(client)
	}
	if ctx.Done() == nil {
		return run()
	}
	done := make(chan error, 1)
	go func() { done <- run() }()
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

func errClosed(op string) error {
	return &Error{Code: CodeShuttingDown, Op: op, Message: "the client is closed"}
}

// startAsync starts one of the client's async calls: start gets the client
// and a new handle of done (a buffered channel the call's completion
// sends to; it deletes the handle). The call is queued on the client's call
// thread and always completes, at the latest when Close ends it.
func (c *Client) startAsync(ctx context.Context, op string, done any,
	start func(client *C.dengine_client, h C.uintptr_t)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.client == nil {
		return errClosed(op)
	}
	start(c.client, C.uintptr_t(newHandle(done)))
	return nil
}

// admin runs a membership call or Snapshot through its async form (see
// startAsync) and waits for its reply, or returns ctx.Err() once ctx ends.
func (c *Client) admin(ctx context.Context, op string,
	start func(client *C.dengine_client, h C.uintptr_t)) (reply, error) {
	done := make(chan reply, 1)
	if err := c.startAsync(ctx, op, done, start); err != nil {
		return reply{}, err
	}
	r, err := await(ctx, done)
	if err != nil {
		return reply{}, err
	}
	return r, r.err(op)
}

// request runs f, a client call that fills a reply, as do does, bounded by
// callTimeout; the error comes from the reply.
func (c *Client) request(ctx context.Context, op string,
	f func(client *C.dengine_client, timeout C.uint32_t, r *C.dengine_reply) C.int) (reply, error) {
	timeout, err := c.callTimeout(ctx)
	if err != nil {
		return reply{}, err
	}
	var out reply
	err = c.do(ctx, op, func(client *C.dengine_client) error {
		var r C.dengine_reply
		defer C.dengine_reply_free(&r)
		out = replyOf(f(client, timeout, &r), &r)
		return out.err(op)
	})
	if err != nil {
		return reply{}, err
	}
	return out, nil
}

// callTimeout is what is left of ctx's deadline when that comes before the
// client's timeout, else 0 (the client's timeout).
func (c *Client) callTimeout(ctx context.Context) (C.uint32_t, error) {
	if _, ok := ctx.Deadline(); !ok {
		return 0, ctx.Err()
	}
	left, err := timeoutOf(ctx)
	if err != nil {
		return 0, err
	}
	if time.Duration(left)*time.Millisecond >= c.timeout {
		return 0, nil
	}
	return left, nil
}

// propose proposes command, as Propose and the KV writes do; command must
// not change until the call ends (it may outlive a cancelled ctx).
func (c *Client) propose(ctx context.Context, op string, command []byte, kv bool) (reply, error) {
	return c.request(ctx, op, func(client *C.dengine_client, timeout C.uint32_t, r *C.dengine_reply) C.int {
		return C.godengine_client_propose(client, bytesPtr(command), C.size_t(len(command)), cBool(kv), timeout, r)
	})
}

// read reads query, as Read and the KV reads do; query must not change
// until the call ends.
func (c *Client) read(ctx context.Context, op string, query []byte, consistency Consistency, kv bool) (reply, error) {
	return c.request(ctx, op, func(client *C.dengine_client, timeout C.uint32_t, r *C.dengine_reply) C.int {
		return C.godengine_client_read(client, bytesPtr(query), C.size_t(len(query)), cBool(kv), C.int(consistency), timeout, r)
	})
}

// Put sets key to value.
func (c *Client) Put(ctx context.Context, key, value []byte) error {
	return kvPut(ctx, kvClient{c}, "Put", key, value, 0)
}

// PutTTL sets key to value until ttl after the leader's clock.
func (c *Client) PutTTL(ctx context.Context, key, value []byte, ttl time.Duration) error {
	return kvPutTTL(ctx, kvClient{c}, key, value, ttl)
}

// Delete removes key and reports whether it existed.
func (c *Client) Delete(ctx context.Context, key []byte) (bool, error) {
	return kvDelete(ctx, kvClient{c}, key)
}

// CompareAndSwap sets key to value if it holds expected (nil: if absent).
func (c *Client) CompareAndSwap(ctx context.Context, key, expected, value []byte) (bool, error) {
	return kvCompareAndSwap(ctx, kvClient{c}, key, expected, value)
}

// Get returns key's value, or ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte, consistency Consistency) ([]byte, error) {
	value, _, err := kvGet(ctx, kvClient{c}, "Get", key, consistency)
	return value, err
}

// GetMulti reads several keys from one consistent view, in order.
func (c *Client) GetMulti(ctx context.Context, keys [][]byte, consistency Consistency) ([]Item, error) {
	return kvGetMulti(ctx, kvClient{c}, keys, consistency)
}

// ScanPrefix returns up to limit keys starting with prefix, in byte order,
// and whether more matched.
func (c *Client) ScanPrefix(ctx context.Context, prefix []byte, limit int, consistency Consistency) ([]Item, bool, error) {
	return kvScanPrefix(ctx, kvClient{c}, prefix, limit, consistency)
}

// Propose sends command to the cluster's application machine and returns
// its result.
func (c *Client) Propose(ctx context.Context, command []byte) (Result, error) {
	r, err := c.propose(ctx, "Propose", bytes.Clone(command), false)
	if err != nil {
		return Result{}, err
	}
	return Result{Status: r.result, Data: r.data}, nil
}

// Read answers query through the application machine at consistency.
func (c *Client) Read(ctx context.Context, query []byte, consistency Consistency) ([]byte, error) {
	r, err := c.read(ctx, "Read", bytes.Clone(query), consistency, false)
	if err != nil {
		return nil, err
	}
	return r.data, nil
}

// Status is the answering server's view (the leader's once found); member
// addresses are peer addresses.
func (c *Client) Status(ctx context.Context) (Status, error) {
	done := make(chan statusReply, 1)
	err := c.startAsync(ctx, "Status", done, func(client *C.dengine_client, h C.uintptr_t) {
		C.godengine_client_status_async(client, h)
	})
	if err != nil {
		return Status{}, err
	}
	r, err := await(ctx, done)
	if err != nil {
		return Status{}, err
	}
	if err := newError("Status", r.status, r.message); err != nil {
		return Status{}, err
	}
	return r.view, nil
}

// AddLearner adds node id, at peer address, as a learner.
func (c *Client) AddLearner(ctx context.Context, id uint64, address string) error {
	_, err := c.admin(ctx, "AddLearner", func(client *C.dengine_client, h C.uintptr_t) {
		a := C.CString(address) // copied by dengine before it returns
		defer C.free(unsafe.Pointer(a))
		C.godengine_client_add_learner_async(client, C.uint64_t(id), a, h)
	})
	return err
}

// Promote makes learner id a voter once it has caught up.
func (c *Client) Promote(ctx context.Context, id uint64) error {
	_, err := c.admin(ctx, "Promote", func(client *C.dengine_client, h C.uintptr_t) {
		C.godengine_client_promote_async(client, C.uint64_t(id), h)
	})
	return err
}

// Remove removes member id.
func (c *Client) Remove(ctx context.Context, id uint64) error {
	_, err := c.admin(ctx, "Remove", func(client *C.dengine_client, h C.uintptr_t) {
		C.godengine_client_remove_async(client, C.uint64_t(id), h)
	})
	return err
}

// TransferLeadership hands leadership to voter to (0: the most caught-up).
func (c *Client) TransferLeadership(ctx context.Context, to uint64) error {
	_, err := c.admin(ctx, "TransferLeadership", func(client *C.dengine_client, h C.uintptr_t) {
		C.godengine_client_transfer_leadership_async(client, C.uint64_t(to), h)
	})
	return err
}

// Snapshot takes a snapshot on the leader and returns its last index.
func (c *Client) Snapshot(ctx context.Context) (uint64, error) {
	r, err := c.admin(ctx, "Snapshot", func(client *C.dengine_client, h C.uintptr_t) {
		C.godengine_client_snapshot_async(client, h)
	})
	if err != nil {
		return 0, err
	}
	return r.index, nil
}
