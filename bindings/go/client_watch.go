package dengine

/*
#include "callbacks.h"
#include "lasterror.h"
*/
import "C"

import (
	"bytes"
	"context"
)

// Watch starts a watch through the client's servers (dengine_client_watch):
// the events Node.Watch delivers, chosen by the same WatchOptions, from
// whichever server answers (any node serves watches, a follower from what
// it has applied). It returns once a server has started the watch, trying
// the endpoints with the client's retries for up to its timeout, or
// ctx.Err() as soon as ctx is cancelled or its deadline passes: the start
// then finishes in the background, within the client's timeout, and a
// watch it starts after all is closed at once. Its error is otherwise an
// *Error: ErrInvalidArgument for bad options (or a server refusing them),
// ErrCompacted when StartRevision is older than the server keeps (the
// message names the oldest it has), ErrShuttingDown on a closed client,
// or, when no server started it in time, the last error (ErrIO,
// ErrTimeout, ...).
//
// The watch outlives servers: when its connection is lost or its server
// stops, it reconnects (the next endpoint, with a growing backoff, without
// giving up) and resumes from the last revision it received, so Events
// still delivers every matching event once, in revision order; the delay
// is the only sign. It runs beside the client's calls, on a connection and
// a thread of its own, and it waits for room in a full channel (see
// Watcher): the server ends it with ErrWatchOverflow if it falls too far
// behind (MaxLag events, or too many unread bytes). It runs until ctx
// ends (Err: ctx.Err()), Close is called (Err: nil), the client closes
// (ErrShuttingDown), or a server ends it with ErrWatchOverflow or
// ErrCompacted; then Events is closed, after the events already in it,
// and NextRevision says where a new watch resumes with no gap:
//
//	w, err := client.Watch(ctx, dengine.WatchOptions{Key: []byte("jobs/"), Prefix: true})
//	if err != nil {
//		return err
//	}
//	defer w.Close()
//	for e := range w.Events() {
//		fmt.Println(e.Revision, e.Type, string(e.Key), string(e.Value))
//	}
//	if errors.Is(w.Err(), dengine.ErrWatchOverflow) {
//		// Resume: a watch from w.NextRevision() misses nothing.
//	}
//
// Cancel ctx or call Close when done with it: a running watch holds a
// goroutine, a thread and a connection until the client closes.
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, stream, err := newWatcher(opts, &c.watches)
	if err != nil {
		return nil, err
	}
	w.waits, w.abandon = true, c.closing
	// The start may outlive this call: it reads its own copy of the key.
	key, prefix := bytes.Clone(opts.Key), opts.Prefix
	if opts.Stream == WatchCluster {
		key, prefix = nil, false // unused, as on a node; the protocol refuses them
	}
	c.mu.RLock()
	if c.client == nil {
		c.mu.RUnlock()
		return nil, errClosed("Watch")
	}
	client := c.client
	c.watches.Add(1) // under mu: Close waits for this watch
	h := newHandle(w)
	started := make(chan error, 1)
	go func() {
		err := call("Watch", func(m **C.char) C.int {
			return C.godengine_client_watch(client, stream, cBool(prefix), bytesPtr(key),
				C.size_t(len(key)), C.uint64_t(opts.StartRevision), C.uint64_t(opts.MaxLag),
				C.uintptr_t(h), &w.watch, m)
		})
		c.mu.RUnlock()
		if err != nil {
			deleteHandle(h) // refused: no callback ever runs
			c.watches.Done()
			started <- err
			return
		}
		started <- nil
		w.run(ctx) // closes the watch at once if ctx ended before the start
	}()
	select {
	case err := <-started:
		if err != nil {
			return nil, err
		}
		return w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
