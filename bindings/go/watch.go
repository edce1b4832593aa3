package dengine

/*
#include <stdlib.h>
#include "callbacks.h"
#include "lasterror.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// WatchStream is what a watch selects (dengine_watch_options.stream).
type WatchStream int

const (
	// WatchKV: the built-in KV machine's puts, deletes and expiries of
	// WatchOptions.Key (or of the keys it prefixes).
	WatchKV WatchStream = iota
	// WatchTopic: the events an application machine publishes (see
	// Result.Events) on the topic WatchOptions.Key (or the topics it
	// prefixes).
	WatchTopic
	// WatchCluster: membership changes and new leaders; Key and Prefix are
	// unused.
	WatchCluster
)

func (s WatchStream) String() string {
	switch s {
	case WatchKV:
		return "kv"
	case WatchTopic:
		return "topic"
	case WatchCluster:
		return "cluster"
	}
	return fmt.Sprintf("WatchStream(%d)", int(s))
}

// cStream is the stream's DENGINE_WATCH_*; false for an unknown one.
func (s WatchStream) cStream() (C.int, bool) {
	switch s {
	case WatchKV:
		return C.DENGINE_WATCH_KV, true
	case WatchTopic:
		return C.DENGINE_WATCH_TOPIC, true
	case WatchCluster:
		return C.DENGINE_WATCH_CLUSTER, true
	}
	return 0, false
}

// The default capacity of a Watcher's channel.
const defaultWatchBuffer = 1024

// WatchOptions says what a watch receives and from where.
type WatchOptions struct {
	Stream WatchStream // the zero value is WatchKV
	// Key is the key (WatchKV) or topic (WatchTopic) watched; with Prefix,
	// every key or topic it starts with (an empty one: all of them). It
	// must not be empty without Prefix, except for WatchCluster.
	Key    []byte
	Prefix bool
	// StartRevision 0 watches from now on: the events after what the node
	// has applied. Otherwise the watch receives every matching event at this
	// revision and after, the past ones first, and fails with ErrCompacted
	// if the node no longer keeps it (see Node.WatchRange).
	StartRevision uint64
	// MaxLag is how many events (of any kind) dengine lets the watch fall
	// behind the newest before it ends it with ErrWatchOverflow; 0: 10,000.
	MaxLag uint64
	// Buffer is the capacity of the Events channel; 0: 1024. A node's watch
	// whose channel is full when its next event arrives ends with
	// ErrWatchOverflow; a client's waits for room (see Watcher).
	Buffer int
}

// EventType is what an event reports (DENGINE_EVENT_*).
type EventType int

const (
	EventPut            EventType = C.DENGINE_EVENT_PUT             // Key set to Value (PrevValue: its old one)
	EventDelete         EventType = C.DENGINE_EVENT_DELETE          // Key deleted (PrevValue: what it held)
	EventExpire         EventType = C.DENGINE_EVENT_EXPIRE          // Key's TTL passed (PrevValue: what it held)
	EventUser           EventType = C.DENGINE_EVENT_USER            // published by the machine: Key is the topic, Value the data
	EventMemberAdded    EventType = C.DENGINE_EVENT_MEMBER_ADDED    // NodeID added as a learner, at Address
	EventMemberPromoted EventType = C.DENGINE_EVENT_MEMBER_PROMOTED // NodeID became a voter
	EventMemberRemoved  EventType = C.DENGINE_EVENT_MEMBER_REMOVED  // NodeID removed
	EventLeader         EventType = C.DENGINE_EVENT_LEADER          // NodeID leads Term; its first entry applied
)

func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventExpire:
		return "expire"
	case EventUser:
		return "user"
	case EventMemberAdded:
		return "member-added"
	case EventMemberPromoted:
		return "member-promoted"
	case EventMemberRemoved:
		return "member-removed"
	case EventLeader:
		return "leader"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one change a node applied. Its bytes are the receiver's own.
type Event struct {
	Type EventType
	// Revision is the log index of the entry that made the event, the same
	// on every node; several events may share one.
	Revision uint64
	// Key is the key of a KV event, the topic of an EventUser.
	Key []byte
	// Value is an EventPut's new value, an EventUser's data.
	Value []byte
	// PrevValue is what the key held before an EventPut, EventDelete or
	// EventExpire, when HasPrevValue.
	PrevValue    []byte
	HasPrevValue bool
	// NodeID is the member of a membership or leader event (EventLeader: 0
	// for an entry written before 0.2.0, which names no leader).
	NodeID  uint64
	Term    uint64 // EventLeader
	Address string // EventMemberAdded: its peer address ("" if unknown)
}

// Watcher is a running watch (see Node.Watch and Client.Watch). Its
// methods are safe for concurrent use.
//
// The events arrive on Events, in revision order, with no gap and no
// duplicate. dengine delivers the events of all of a node's watches on one
// thread, which must never wait for a Go consumer: a node's watch whose
// channel is full when its next event arrives ends at once with an *Error
// wrapping ErrWatchOverflow, and NextRevision is then that event's
// revision. A new watch from NextRevision misses nothing: it starts with
// that event; if the channel already held earlier events of the same
// revision (one entry can make several), they come again.
//
// A client's watch has a thread of its own, so it waits for room in a full
// channel instead: a slow consumer holds back only its own watch, until
// the server, whose events for it pile up, ends it with ErrWatchOverflow.
type Watcher struct {
	events   chan Event
	stop     chan struct{} // closed to end the watch: by Close, ctx, or on overflow
	stopOnce sync.Once
	ended    chan struct{} // closed by goWatchEnd
	finished chan struct{} // closed once events is
	watch    *C.dengine_watch
	// running is the owner's count of running watches (a Node's or a
	// Client's), which its Close waits for.
	running *sync.WaitGroup
	// waits: a client's watch, whose callbacks wait for room in events
	// until stop or abandon is closed (the client is closing).
	waits   bool
	abandon <-chan struct{}

	mu sync.Mutex // guards what follows, between the callbacks and Go
	// closed: events is closed; no event is sent any more.
	closed bool
	// overflowed: an event found the channel full; it and every later one
	// are dropped, and overflowAt is its revision.
	overflowed bool
	overflowAt uint64
	// dropped: a waiting watch ended while its channel was full; the event
	// it held and every later one are dropped, droppedAt is its revision.
	dropped   bool
	droppedAt uint64
	// What dengine's on_end reported.
	endStatus  C.int
	endNext    uint64
	endMessage string
	// How the watch ended, once closed.
	err  error
	next uint64
}

// Watch starts a watch on this node (any node serves them; a follower from
// what it has applied). Its error is an *Error: ErrInvalidArgument for bad
// options, ErrCompacted when StartRevision is older than the node keeps
// (the message names the oldest it has), ErrShuttingDown on a stopped node;
// or ctx.Err() if ctx has already ended.
//
// The watch runs until ctx ends, Close is called, the node stops, or
// dengine ends it (see Watcher); then Events is closed, after the events
// already in it. Cancel ctx or call Close when done with it: a running
// watch holds a goroutine and dengine resources until the node closes.
func (n *Node) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, stream, err := newWatcher(opts, &n.watches)
	if err != nil {
		return nil, err
	}
	node, err := n.enter("Watch")
	if err != nil {
		return nil, err
	}
	defer n.leave()
	h := newHandle(w)
	err = call("Watch", func(m **C.char) C.int {
		return C.godengine_node_watch(node, stream, cBool(opts.Prefix), bytesPtr(opts.Key),
			C.size_t(len(opts.Key)), C.uint64_t(opts.StartRevision), C.uint64_t(opts.MaxLag),
			C.uintptr_t(h), &w.watch, m)
	})
	if err != nil {
		deleteHandle(h) // refused: no callback ever runs
		return nil, err
	}
	// Under enter: Node.Close waits for this watch once it has closed node.
	n.watches.Add(1)
	go w.run(ctx)
	return w, nil
}

// newWatcher checks opts and makes the Watcher of a watch that running
// counts once it starts; it also returns the options' DENGINE_WATCH_*.
func newWatcher(opts WatchOptions, running *sync.WaitGroup) (*Watcher, C.int, error) {
	stream, ok := opts.Stream.cStream()
	if !ok {
		return nil, 0, &Error{Code: CodeInvalidArgument, Op: "Watch",
			Message: fmt.Sprintf("unknown stream %d", int(opts.Stream))}
	}
	buffer := opts.Buffer
	if buffer < 0 {
		return nil, 0, &Error{Code: CodeInvalidArgument, Op: "Watch",
			Message: fmt.Sprintf("the buffer must not be negative, got %d", buffer)}
	}
	if buffer == 0 {
		buffer = defaultWatchBuffer
	}
	return &Watcher{
		events:   make(chan Event, buffer),
		stop:     make(chan struct{}),
		ended:    make(chan struct{}),
		finished: make(chan struct{}),
		running:  running,
	}, stream, nil
}

// Events delivers the watch's events; it is closed when the watch ends.
func (w *Watcher) Events() <-chan Event { return w.events }

// Err says why the watch ended. It is nil while the watch runs, and set
// when it ends, as Events is closed (the channel may still hold events):
// nil when Close ended it, ctx.Err() when ctx did, else an *Error
// wrapping ErrWatchOverflow (a node's watch found its channel full; the
// watch fell MaxLag events behind or out of the node's history; a
// client's watch left too many events unread at its server), ErrCompacted
// (a snapshot from the leader replaced entries the watch still needed; a
// client's watch: no server keeps the revision it must resume from) or
// ErrShuttingDown (the node stopped, or the client closed).
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// NextRevision is where to resume once the watch has ended (0 before):
// every matching event below it was put in the channel, so a watch with
// StartRevision NextRevision continues with no gap (and with no repeat,
// unless the watch ended as an event found the channel full, see Watcher:
// the events of that revision already in the channel come again).
func (w *Watcher) NextRevision() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next
}

// Close ends the watch, if it runs, and returns once Events is closed. It
// is idempotent and returns nil; also safe after the node (or client)
// closed.
func (w *Watcher) Close() error {
	w.end()
	<-w.finished
	return nil
}

func (w *Watcher) end() { w.stopOnce.Do(func() { close(w.stop) }) }

// run waits for a reason to end the watch, closes it in dengine and
// closes the channel.
func (w *Watcher) run(ctx context.Context) {
	var cause error // ctx.Err() if ctx ended it
	select {
	case <-ctx.Done():
		cause = ctx.Err()
	case <-w.stop:
	case <-w.ended:
	}
	w.end() // a client's watch may wait in goWatchEvent for room
	// From a Go thread, never the watch thread: on_end has run when it
	// returns, and no callback of the watch runs again.
	C.dengine_watch_close(w.watch)
	<-w.ended
	w.mu.Lock()
	switch {
	case w.overflowed: // the dropped events come first, whatever came next
		w.err = &Error{Code: CodeWatchOverflow, Op: "Watch", Message: fmt.Sprintf(
			"the channel's %d events were not received in time; resume from revision %d",
			cap(w.events), w.overflowAt)}
		w.next = w.overflowAt
	case w.endStatus != C.DENGINE_ERR_CANCELLED: // dengine ended it first
		w.err = newError("Watch", w.endStatus, w.endMessage)
		w.next = w.endNext
	default:
		w.err = cause
		w.next = w.endNext
	}
	if w.dropped && w.droppedAt < w.next {
		w.next = w.droppedAt
	}
	w.closed = true
	close(w.events)
	w.mu.Unlock()
	w.running.Done()
	close(w.finished)
}

// goWatchEvent hands one event to the watch's channel, on the watch thread:
// a node's without ever blocking it, a client's as waitToSend does. The
// event is valid only during the call.
//
//export goWatchEvent
func goWatchEvent(h C.uintptr_t, e *C.dengine_event) {
	w := cgo.Handle(h).Value().(*Watcher)
	if w.waits {
		w.waitToSend(e)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.overflowed {
		return
	}
	select {
	case w.events <- eventOf(e):
	default:
		w.overflowed = true
		w.overflowAt = uint64(e.revision)
		w.end() // run cancels it in dengine, from a Go thread
	}
}

// waitToSend hands a client watch's event to the channel, waiting for
// room on the watch's own thread, until the watch ends or its client
// closes: then the event and every later one are dropped (see droppedAt),
// so that dengine_watch_close, which waits for this callback, can return.
func (w *Watcher) waitToSend(e *C.dengine_event) {
	w.mu.Lock()
	dropped := w.dropped
	w.mu.Unlock()
	if dropped {
		return
	}
	event := eventOf(e)
	select {
	case w.events <- event: // room: even a watch being ended keeps it
		return
	default:
	}
	select {
	case w.events <- event:
		return
	case <-w.stop:
	case <-w.abandon:
	}
	w.mu.Lock()
	w.dropped, w.droppedAt = true, event.Revision
	w.mu.Unlock()
}

// goWatchEnd records how the watch ended: exactly once, after its last
// event, on the watch thread or in run's dengine_watch_close. It deletes
// the handle, which no callback uses after it.
//
//export goWatchEnd
func goWatchEnd(h C.uintptr_t, status C.int, next C.uint64_t, message *C.char) {
	handle := cgo.Handle(h)
	w := handle.Value().(*Watcher)
	deleteHandle(handle)
	w.mu.Lock()
	w.endStatus, w.endNext = status, uint64(next)
	if message != nil {
		w.endMessage = C.GoString(message)
	}
	w.mu.Unlock()
	close(w.ended)
}

// eventOf copies an event lent to a callback, its bytes in one allocation;
// each slice is capped so appending to it cannot touch another.
func eventOf(e *C.dengine_event) Event {
	out := Event{Type: EventType(e._type), Revision: uint64(e.revision),
		HasPrevValue: e.has_prev_value != 0, NodeID: uint64(e.node_id), Term: uint64(e.term)}
	if e.address != nil {
		out.Address = C.GoString(e.address)
	}
	buf := make([]byte, 0, int(e.key_len+e.value_len+e.prev_value_len))
	take := func(p *C.uint8_t, n C.size_t) []byte {
		if n == 0 {
			return nil
		}
		start := len(buf)
		buf = append(buf, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))...)
		return buf[start:len(buf):len(buf)]
	}
	out.Key = take(e.key, e.key_len)
	out.Value = take(e.value, e.value_len)
	if out.HasPrevValue {
		out.PrevValue = take(e.prev_value, e.prev_value_len)
	}
	return out
}

// WatchRange reports the revisions a new watch can start from: oldest, the
// oldest the node keeps (a StartRevision below it fails with
// ErrCompacted), and next, the revision after everything it applied (a
// watch from it sees only what comes next).
func (n *Node) WatchRange() (oldest, next uint64, err error) {
	p, err := n.enter("WatchRange")
	if err != nil {
		return 0, 0, err
	}
	defer n.leave()
	var o, x C.uint64_t
	err = call("WatchRange", func(m **C.char) C.int { return C.godengine_node_watch_range(p, &o, &x, m) })
	return uint64(o), uint64(x), err
}
