package dengine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/testmachine"
)

// kvCluster is a one-node cluster running the built-in KV machine, and its
// node once it leads.
func kvCluster(t *testing.T, configure func(*dengine.Config)) (*cluster, *dengine.Node) {
	t.Helper()
	c := newCluster(t, 1, func(cfg *dengine.Config) {
		cfg.StateMachine = nil
		if configure != nil {
			configure(cfg)
		}
	})
	return c, c.nodes[c.leader()]
}

// next is the watch's next event; the test fails if the channel closes or
// nothing comes within patience.
func next(t *testing.T, w *dengine.Watcher) dengine.Event {
	t.Helper()
	select {
	case e, ok := <-w.Events():
		if !ok {
			t.Fatalf("the watch ended (%v) before the next event", w.Err())
		}
		return e
	case <-time.After(patience):
		t.Fatal("timed out waiting for an event")
	}
	return dengine.Event{}
}

// rest is what the channel still holds once the watch ends.
func rest(t *testing.T, w *dengine.Watcher) []dengine.Event {
	t.Helper()
	var events []dengine.Event
	timeout := time.After(patience)
	for {
		select {
		case e, ok := <-w.Events():
			if !ok {
				return events
			}
			events = append(events, e)
		case <-timeout:
			t.Fatal("timed out waiting for the watch to end")
		}
	}
}

// describe renders a KV event for comparisons.
func describe(e dengine.Event) string {
	s := fmt.Sprintf("%s %s=%q", e.Type, e.Key, e.Value)
	if e.HasPrevValue {
		s += fmt.Sprintf(" prev %q", e.PrevValue)
	}
	return s
}

func put(t *testing.T, n *dengine.Node, key, value string) {
	t.Helper()
	if err := n.Put(ctxFor(t), []byte(key), []byte(value)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// noHandlesAfterClose closes every node of c and checks that no cgo handle
// is left: the watches' included.
func noHandlesAfterClose(t *testing.T, c *cluster) {
	t.Helper()
	c.closeAll()
	if n := dengine.LiveHandles(); n != 0 {
		t.Fatalf("%d cgo handles live after the nodes closed", n)
	}
}

func TestWatchPrefixSeesPutsAndDeletesInOrder(t *testing.T) {
	c, n := kvCluster(t, nil)
	ctx := ctxFor(t)
	w, err := n.Watch(ctx, dengine.WatchOptions{Key: []byte("jobs/"), Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	put(t, n, "jobs/a", "1")
	put(t, n, "other", "x") // outside the prefix
	put(t, n, "jobs/a", "2")
	if existed, err := n.Delete(ctx, []byte("jobs/a")); err != nil || !existed {
		t.Fatalf("delete: %v, %v", existed, err)
	}
	put(t, n, "jobs/b", "")

	want := []string{`put jobs/a="1"`, `put jobs/a="2" prev "1"`, `delete jobs/a="" prev "2"`, `put jobs/b=""`}
	var last uint64
	for _, d := range want {
		e := next(t, w)
		if describe(e) != d {
			t.Fatalf("event %q, want %q", describe(e), d)
		}
		if e.Revision <= last {
			t.Fatalf("revision %d after %d", e.Revision, last)
		}
		last = e.Revision
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if extra := rest(t, w); len(extra) != 0 {
		t.Fatalf("events after the last write: %v", extra)
	}
	if w.Err() != nil || w.NextRevision() <= last {
		t.Fatalf("closed watch: err %v, next revision %d after %d", w.Err(), w.NextRevision(), last)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	noHandlesAfterClose(t, c)
}

func TestWatchReplaysThePastAndContinuesAfterARead(t *testing.T) {
	c, n := kvCluster(t, nil)
	ctx := ctxFor(t)
	for i := 1; i <= 3; i++ {
		put(t, n, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	value, revision, err := n.GetWithRevision(ctx, []byte("k2"), dengine.ReadLinearizable)
	if err != nil || string(value) != "v2" {
		t.Fatalf("GetWithRevision: %q, %v", value, err)
	}
	oldest, nextRevision, err := n.WatchRange()
	if err != nil || oldest < 1 || nextRevision != revision+1 {
		t.Fatalf("WatchRange: %d, %d, %v (the read reflects revision %d)", oldest, nextRevision, err, revision)
	}
	if _, r, err := n.GetWithRevision(ctx, []byte("absent"), dengine.ReadLinearizable); !errors.Is(err, dengine.ErrNotFound) || r != revision {
		t.Fatalf("GetWithRevision of an absent key: revision %d, %v", r, err)
	}

	// From the oldest revision kept: the past first, in order.
	past, err := n.Watch(ctx, dengine.WatchOptions{Key: []byte("k"), Prefix: true, StartRevision: oldest})
	if err != nil {
		t.Fatal(err)
	}
	defer past.Close()
	for i := 1; i <= 3; i++ {
		if e := next(t, past); describe(e) != fmt.Sprintf(`put k%d="v%d"`, i, i) || e.Revision > revision {
			t.Fatalf("replayed event %d: %s at %d (read at %d)", i, describe(e), e.Revision, revision)
		}
	}

	// Read, then watch from the revision after it: exactly what follows.
	w, err := n.Watch(ctx, dengine.WatchOptions{Key: []byte("k2"), StartRevision: revision + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	put(t, n, "k1", "ignored")
	put(t, n, "k2", "new")
	if e := next(t, w); describe(e) != `put k2="new" prev "v2"` || e.Revision <= revision {
		t.Fatalf("after the read: %s at %d", describe(e), e.Revision)
	}
	if e := next(t, past); describe(e) != `put k1="ignored" prev "v1"` {
		t.Fatalf("the replaying watch goes on with %s", describe(e))
	}
	w.Close()
	past.Close()
	noHandlesAfterClose(t, c)
}

func TestWatchFromACompactedRevisionFails(t *testing.T) {
	c, n := kvCluster(t, func(cfg *dengine.Config) { cfg.WatchHistoryEvents = 5 })
	for i := 0; i < 10; i++ {
		put(t, n, fmt.Sprintf("k%d", i), "v")
	}
	oldest, _, err := n.WatchRange()
	if err != nil || oldest <= 1 {
		t.Fatalf("WatchRange: oldest %d, %v", oldest, err)
	}
	_, err = n.Watch(ctxFor(t), dengine.WatchOptions{Key: []byte("k"), Prefix: true, StartRevision: 1})
	var e *dengine.Error
	if !errors.Is(err, dengine.ErrCompacted) || !errors.As(err, &e) ||
		!strings.Contains(e.Message, fmt.Sprintf("the oldest available is %d", oldest)) {
		t.Fatalf("watch from revision 1: %v", err)
	}
	// The oldest revision kept still works.
	w, err := n.Watch(ctxFor(t), dengine.WatchOptions{Key: []byte("k"), Prefix: true, StartRevision: oldest})
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, w); e.Revision < oldest {
		t.Fatalf("event at %d, before the oldest kept %d", e.Revision, oldest)
	}
	w.Close()
	noHandlesAfterClose(t, c)
}

func TestWatchRefusesBadOptions(t *testing.T) {
	c, n := kvCluster(t, nil)
	ctx := ctxFor(t)
	for _, tc := range []struct {
		opts dengine.WatchOptions
		want string
	}{
		{dengine.WatchOptions{}, "the key is empty"},
		{dengine.WatchOptions{Stream: dengine.WatchTopic}, "the key is empty"},
		{dengine.WatchOptions{Stream: dengine.WatchStream(7), Prefix: true}, "unknown stream 7"},
		{dengine.WatchOptions{Prefix: true, Buffer: -1}, "the buffer must not be negative"},
	} {
		_, err := n.Watch(ctx, tc.opts)
		var e *dengine.Error
		if !errors.Is(err, dengine.ErrInvalidArgument) || !errors.As(err, &e) || !strings.Contains(e.Message, tc.want) {
			t.Errorf("Watch(%+v): %v, want a message with %q", tc.opts, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.Watch(cancelled, dengine.WatchOptions{Prefix: true}); err != context.Canceled {
		t.Errorf("Watch with a cancelled context: %v", err)
	}
	noHandlesAfterClose(t, c)
}

func TestWatchClusterStreamSeesTheLeader(t *testing.T) {
	c := newCluster(t, 1, nil)
	n := c.nodes[c.leader()]
	oldest, _, err := n.WatchRange()
	if err != nil {
		t.Fatal(err)
	}
	w, err := n.Watch(ctxFor(t), dengine.WatchOptions{Stream: dengine.WatchCluster, StartRevision: oldest})
	if err != nil {
		t.Fatal(err)
	}
	// The bootstrap entry adds and promotes the voter, then its election
	// no-op names it leader.
	added, promoted, leader := next(t, w), next(t, w), next(t, w)
	if added.Type != dengine.EventMemberAdded || added.NodeID != 1 ||
		promoted.Type != dengine.EventMemberPromoted || promoted.NodeID != 1 {
		t.Fatalf("bootstrap events: %+v, %+v", added, promoted)
	}
	s, err := n.Status()
	if err != nil {
		t.Fatal(err)
	}
	if leader.Type != dengine.EventLeader || leader.NodeID != 1 || leader.Term != s.Term ||
		leader.Revision <= promoted.Revision {
		t.Fatalf("leader event %+v (status: term %d)", leader, s.Term)
	}
	if got := leader.Type.String(); got != "leader" {
		t.Fatalf("EventLeader.String() = %q", got)
	}
	w.Close()
	noHandlesAfterClose(t, c)
}

// publishingMachine is a testmachine that publishes each "key=value" it
// applies on the topic "set/key".
type publishingMachine struct {
	*testmachine.Machine
	// emptyTopic: a command "bad=..." publishes on an empty topic.
	emptyTopic bool
}

func (p *publishingMachine) Apply(entries []dengine.Entry) ([]dengine.Result, error) {
	applied := p.LastApplied()
	results, err := p.Machine.Apply(entries)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		key, value, ok := bytes.Cut(e.Data, []byte("="))
		if e.Index <= applied || e.Kind != dengine.EntryNormal || !ok || len(key) == 0 {
			continue
		}
		topic := append([]byte("set/"), key...)
		if p.emptyTopic && string(key) == "bad" {
			topic = nil
		}
		results[i].Events = append(results[i].Events, dengine.Publication{Topic: topic, Data: value},
			dengine.Publication{Topic: []byte("all"), Data: key})
	}
	return results, nil
}

func publishingCluster(t *testing.T, emptyTopic bool) (*cluster, *dengine.Node) {
	t.Helper()
	m, err := testmachine.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 1, func(cfg *dengine.Config) {
		cfg.StateMachine = &publishingMachine{Machine: m, emptyTopic: emptyTopic}
	})
	return c, c.nodes[c.leader()]
}

func TestWatchSeesWhatAGoMachinePublishes(t *testing.T) {
	c, n := publishingCluster(t, false)
	ctx := ctxFor(t)
	sets, err := n.Watch(ctx, dengine.WatchOptions{Stream: dengine.WatchTopic, Key: []byte("set/"), Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := n.Watch(ctx, dengine.WatchOptions{Stream: dengine.WatchTopic, Key: []byte("all")})
	if err != nil {
		t.Fatal(err)
	}
	for _, command := range []string{"a=1", "no equals sign", "b=2"} {
		if _, err := n.Propose(ctx, []byte(command)); err != nil {
			t.Fatalf("propose %q: %v", command, err)
		}
	}
	a, b := next(t, sets), next(t, sets)
	if a.Type != dengine.EventUser || string(a.Key) != "set/a" || string(a.Value) != "1" ||
		string(b.Key) != "set/b" || string(b.Value) != "2" || b.Revision <= a.Revision {
		t.Fatalf("published: %+v, %+v", a, b)
	}
	// An entry's events share its revision, in publishing order.
	if e := next(t, all); string(e.Value) != "a" || e.Revision != a.Revision {
		t.Fatalf("the second event of a's entry: %+v (first at %d)", e, a.Revision)
	}
	if e := next(t, all); string(e.Value) != "b" || e.Revision != b.Revision {
		t.Fatalf("the second event of b's entry: %+v (first at %d)", e, b.Revision)
	}
	sets.Close()
	all.Close()
	noHandlesAfterClose(t, c)
}

func TestPublishingOnAnEmptyTopicStopsTheNode(t *testing.T) {
	c, n := publishingCluster(t, true)
	ctx := ctxFor(t)
	if _, err := n.Propose(ctx, []byte("bad=1")); err == nil {
		t.Fatal("a proposal whose apply failed succeeded")
	}
	waitFor(t, "the node to stop serving", func() bool {
		s, err := n.Status()
		return err == nil && s.Fatal != nil
	})
	n.Close() // returns the apply's error
	delete(c.nodes, 1)
	if live := dengine.LiveHandles(); live != 0 {
		t.Fatalf("%d cgo handles live", live)
	}
}

func TestWatchEndsWhenItsContextIsCancelled(t *testing.T) {
	c, n := kvCluster(t, nil)
	ctx, cancel := context.WithCancel(ctxFor(t))
	w, err := n.Watch(ctx, dengine.WatchOptions{Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	put(t, n, "a", "1")
	if e := next(t, w); describe(e) != `put a="1"` {
		t.Fatalf("event %s", describe(e))
	}
	cancel()
	if extra := rest(t, w); len(extra) != 0 {
		t.Fatalf("events after the cancel: %v", extra)
	}
	if err := w.Err(); err != context.Canceled {
		t.Fatalf("Err after the context was cancelled: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	noHandlesAfterClose(t, c)
}

func TestWatchOverflowResumesWithoutLoss(t *testing.T) {
	c, n := kvCluster(t, nil)
	ctx := ctxFor(t)
	w, err := n.Watch(ctx, dengine.WatchOptions{Key: []byte("o/"), Prefix: true, Buffer: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 1; i <= 5; i++ {
		put(t, n, fmt.Sprintf("o/%d", i), fmt.Sprintf("v%d", i))
	}
	// Nobody reads: the third event finds the channel full.
	waitFor(t, "the watch to overflow", func() bool { return w.Err() != nil })
	var e *dengine.Error
	if err := w.Err(); !errors.Is(err, dengine.ErrWatchOverflow) || !errors.As(err, &e) || e.Code != dengine.CodeWatchOverflow {
		t.Fatalf("Err: %v", err)
	}
	buffered := rest(t, w)
	if len(buffered) != 2 || describe(buffered[0]) != `put o/1="v1"` || describe(buffered[1]) != `put o/2="v2"` {
		t.Fatalf("the channel held %v", buffered)
	}
	resume := w.NextRevision()
	if resume <= buffered[1].Revision {
		t.Fatalf("NextRevision %d, not past the last event received (%d)", resume, buffered[1].Revision)
	}

	// A new watch from NextRevision receives the rest, starting there.
	again, err := n.Watch(ctx, dengine.WatchOptions{Key: []byte("o/"), Prefix: true, StartRevision: resume})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for i := 3; i <= 5; i++ {
		e := next(t, again)
		if describe(e) != fmt.Sprintf(`put o/%d="v%d"`, i, i) || (i == 3 && e.Revision != resume) {
			t.Fatalf("resumed event %s at %d (resumed from %d)", describe(e), e.Revision, resume)
		}
	}
	w.Close()
	again.Close()
	noHandlesAfterClose(t, c)
}

func TestClosingTheNodeEndsItsWatches(t *testing.T) {
	c, n := kvCluster(t, nil)
	ctx := ctxFor(t)
	kv, err := n.Watch(ctx, dengine.WatchOptions{Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	members, err := n.Watch(ctx, dengine.WatchOptions{Stream: dengine.WatchCluster})
	if err != nil {
		t.Fatal(err)
	}
	put(t, n, "a", "1")
	c.stop(1)
	// Close has ended both: their channels are closed already.
	for _, w := range []*dengine.Watcher{kv, members} {
		for open := true; open; {
			select {
			case _, open = <-w.Events():
			default:
				t.Fatal("a watch's channel is still open after the node closed")
			}
		}
		if err := w.Err(); !errors.Is(err, dengine.ErrShuttingDown) {
			t.Fatalf("Err after the node closed: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Watch(ctx, dengine.WatchOptions{Prefix: true}); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("Watch on a closed node: %v", err)
	}
	if _, _, err := n.WatchRange(); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("WatchRange on a closed node: %v", err)
	}
	noHandlesAfterClose(t, c)
}

// Close from several goroutines at once, while events flow and a reader
// drains them, is safe and ends the watch with a nil Err.
func TestWatcherCloseRacesEvents(t *testing.T) {
	c, n := kvCluster(t, nil)
	ctx := ctxFor(t)
	w, err := n.Watch(ctx, dengine.WatchOptions{Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range w.Events() {
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			if err := n.Put(ctx, []byte(fmt.Sprintf("r%d", i)), []byte("v")); err != nil {
				t.Errorf("put: %v", err)
				return
			}
		}
	}()
	put(t, n, "first", "v")
	var closers sync.WaitGroup
	for i := 0; i < 4; i++ {
		closers.Add(1)
		go func() {
			defer closers.Done()
			w.Close()
		}()
	}
	closers.Wait()
	wg.Wait()
	if err := w.Err(); err != nil {
		t.Fatalf("Err after Close: %v", err)
	}
	noHandlesAfterClose(t, c)
}
