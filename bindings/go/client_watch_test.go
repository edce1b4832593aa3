package dengine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dengine.dev/dengine"
)

// kvClusterWithClients is clusterWithClients with the built-in KV machine.
func kvClusterWithClients(t *testing.T, size int, configure func(*dengine.Config)) (*cluster, *dengine.Client) {
	t.Helper()
	c, client := clusterWithClients(t, size, func(cfg *dengine.Config) {
		cfg.StateMachine = nil
		if configure != nil {
			configure(cfg)
		}
	})
	c.leader()
	return c, client
}

func clientPut(t *testing.T, client *dengine.Client, key, value string) {
	t.Helper()
	if err := client.Put(ctxFor(t), []byte(key), []byte(value)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// noHandlesAfterClientsClose closes the clients, then every node of c, and
// checks that no cgo handle is left: the client watches' included.
func noHandlesAfterClientsClose(t *testing.T, c *cluster, clients ...*dengine.Client) {
	t.Helper()
	for _, client := range clients {
		client.Close()
	}
	noHandlesAfterClose(t, c)
}

// expectEvents receives len(want) events of w, each described as want
// says, in strictly increasing revisions, and returns them.
func expectEvents(t *testing.T, w *dengine.Watcher, want []string) []dengine.Event {
	t.Helper()
	var got []dengine.Event
	for i, d := range want {
		e := next(t, w)
		if describe(e) != d {
			t.Fatalf("event %d: %q, want %q", i, describe(e), d)
		}
		if len(got) > 0 && e.Revision <= got[len(got)-1].Revision {
			t.Fatalf("event %d at revision %d, after %d", i, e.Revision, got[len(got)-1].Revision)
		}
		got = append(got, e)
	}
	return got
}

func TestClientWatchKeySeesPutsAndDeletesInOrder(t *testing.T) {
	c, client := kvClusterWithClients(t, 3, nil)
	ctx := ctxFor(t)
	w, err := client.Watch(ctx, dengine.WatchOptions{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	// The same watch on a node, for the revisions: the same on every node.
	local, err := c.nodes[c.follower(c.leader())].Watch(ctx, dengine.WatchOptions{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	clientPut(t, client, "k", "1")
	clientPut(t, client, "kk", "x") // another key, which k does not prefix here
	clientPut(t, client, "k", "2")
	if existed, err := client.Delete(ctx, []byte("k")); err != nil || !existed {
		t.Fatalf("delete: %v, %v", existed, err)
	}
	clientPut(t, client, "k", "3")

	want := []string{`put k="1"`, `put k="2" prev "1"`, `delete k="" prev "2"`, `put k="3"`}
	got := expectEvents(t, w, want)
	for i, e := range expectEvents(t, local, want) {
		if got[i].Revision != e.Revision {
			t.Fatalf("event %d at revision %d through the client, %d on the node", i, got[i].Revision, e.Revision)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if extra := rest(t, w); len(extra) != 0 {
		t.Fatalf("events after the last write: %v", extra)
	}
	if w.Err() != nil || w.NextRevision() <= got[len(got)-1].Revision {
		t.Fatalf("closed watch: err %v, next revision %d after %d", w.Err(), w.NextRevision(), got[len(got)-1].Revision)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	local.Close()
	noHandlesAfterClientsClose(t, c, client)
}

func TestClientWatchPrefix(t *testing.T) {
	c, client := kvClusterWithClients(t, 1, nil)
	ctx := ctxFor(t)
	w, err := client.Watch(ctx, dengine.WatchOptions{Key: []byte("jobs/"), Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	all, err := client.Watch(ctx, dengine.WatchOptions{Prefix: true}) // an empty prefix: every key
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	clientPut(t, client, "jobs/a", "1")
	clientPut(t, client, "jobs", "outside")
	clientPut(t, client, "other", "outside")
	clientPut(t, client, "jobs/b", "2")
	if _, err := client.Delete(ctx, []byte("jobs/a")); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, w, []string{`put jobs/a="1"`, `put jobs/b="2"`, `delete jobs/a="" prev "1"`})
	expectEvents(t, all, []string{`put jobs/a="1"`, `put jobs="outside"`, `put other="outside"`,
		`put jobs/b="2"`, `delete jobs/a="" prev "1"`})
	w.Close()
	all.Close()
	noHandlesAfterClientsClose(t, c, client)
}

func TestClientWatchReplaysFromAPastRevision(t *testing.T) {
	c, client := kvClusterWithClients(t, 3, nil)
	ctx := ctxFor(t)
	for i := 1; i <= 3; i++ {
		clientPut(t, client, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	oldest, _, err := c.nodes[c.leader()].WatchRange()
	if err != nil {
		t.Fatal(err)
	}
	past, err := client.Watch(ctx, dengine.WatchOptions{Key: []byte("k"), Prefix: true, StartRevision: oldest})
	if err != nil {
		t.Fatal(err)
	}
	defer past.Close()
	replayed := expectEvents(t, past, []string{`put k1="v1"`, `put k2="v2"`, `put k3="v3"`})

	// From the second write's revision: it and what follows, nothing before.
	from, err := client.Watch(ctx, dengine.WatchOptions{Key: []byte("k"), Prefix: true,
		StartRevision: replayed[1].Revision})
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	clientPut(t, client, "k1", "new")
	expectEvents(t, from, []string{`put k2="v2"`, `put k3="v3"`, `put k1="new" prev "v1"`})
	expectEvents(t, past, []string{`put k1="new" prev "v1"`})
	past.Close()
	from.Close()
	noHandlesAfterClientsClose(t, c, client)
}

func TestClientWatchFromACompactedRevisionFails(t *testing.T) {
	c, client := kvClusterWithClients(t, 1, func(cfg *dengine.Config) { cfg.WatchHistoryEvents = 5 })
	for i := 0; i < 10; i++ {
		clientPut(t, client, fmt.Sprintf("k%d", i), "v")
	}
	oldest, _, err := c.nodes[1].WatchRange()
	if err != nil || oldest <= 1 {
		t.Fatalf("WatchRange: oldest %d, %v", oldest, err)
	}
	_, err = client.Watch(ctxFor(t), dengine.WatchOptions{Key: []byte("k"), Prefix: true, StartRevision: 1})
	var e *dengine.Error
	if !errors.Is(err, dengine.ErrCompacted) || !errors.As(err, &e) || e.Code != dengine.CodeCompacted ||
		e.Op != "Watch" || !strings.Contains(e.Message, fmt.Sprint(oldest)) {
		t.Fatalf("watch from revision 1 (the oldest kept is %d): %v", oldest, err)
	}
	// The oldest revision kept still works.
	w, err := client.Watch(ctxFor(t), dengine.WatchOptions{Key: []byte("k"), Prefix: true, StartRevision: oldest})
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, w); e.Revision < oldest {
		t.Fatalf("event at %d, before the oldest kept %d", e.Revision, oldest)
	}
	w.Close()
	noHandlesAfterClientsClose(t, c, client)
}

func TestClientWatchEndsWhenItsContextIsCancelled(t *testing.T) {
	c, client := kvClusterWithClients(t, 1, nil)
	ctx, cancel := context.WithCancel(ctxFor(t))
	w, err := client.Watch(ctx, dengine.WatchOptions{Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads this one: it waits for room when its context ends.
	full, err := client.Watch(ctx, dengine.WatchOptions{Prefix: true, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	clientPut(t, client, "a", "1")
	clientPut(t, client, "b", "2")
	if e := next(t, w); describe(e) != `put a="1"` {
		t.Fatalf("event %s", describe(e))
	}
	if e := next(t, w); describe(e) != `put b="2"` {
		t.Fatalf("event %s", describe(e))
	}
	waitFor(t, "the channel to fill", func() bool { return len(full.Events()) == 1 })
	cancel()
	if extra := rest(t, w); len(extra) != 0 {
		t.Fatalf("events after the cancel: %v", extra)
	}
	// It ends with nobody making room; b, which waited, is not delivered.
	waitFor(t, "the waiting watch to end", func() bool { return full.Err() != nil })
	if held := rest(t, full); len(held) != 1 || describe(held[0]) != `put a="1"` {
		t.Fatalf("the full channel held %v", held)
	}
	for _, watcher := range []*dengine.Watcher{w, full} {
		if err := watcher.Err(); err != context.Canceled {
			t.Fatalf("Err after the context was cancelled: %v", err)
		}
		if err := watcher.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The full one resumes with what it could not deliver, then goes on.
	resumed, err := client.Watch(ctxFor(t), dengine.WatchOptions{Prefix: true, StartRevision: full.NextRevision()})
	if err != nil {
		t.Fatal(err)
	}
	clientPut(t, client, "c", "3")
	expectEvents(t, resumed, []string{`put b="2"`, `put c="3"`})
	resumed.Close()
	noHandlesAfterClientsClose(t, c, client)
}

// With no server to start it, Watch returns at its context's end while
// dengine keeps trying (for the client's timeout); once the server is back,
// the abandoned starts succeed and are closed at once.
func TestClientWatchStartHonoursItsContext(t *testing.T) {
	c, _ := kvClusterWithClients(t, 1, nil)
	live := dengine.LiveHandles() // with the node running
	client := openClient(t, c.clientAddrs[1])
	c.stop(1)

	// An IO or timeout error here would mean Watch waited for dengine.
	deadline, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := client.Watch(deadline, dengine.WatchOptions{Prefix: true}); err != context.DeadlineExceeded {
		t.Fatalf("Watch with no server, until a deadline: %v", err)
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancelNow() }()
	if _, err := client.Watch(cancelled, dengine.WatchOptions{Key: []byte("k")}); err != context.Canceled {
		t.Fatalf("Watch with no server, until cancelled: %v", err)
	}

	c.start(1, nil)
	c.leader()
	// Started since (and closed at once) or given up, each abandoned start
	// releases its handle; a watch left running would hold it.
	waitFor(t, "the abandoned starts to end", func() bool { return dengine.LiveHandles() == live })
	// The client still works, and so does a watch through it.
	w, err := client.Watch(ctxFor(t), dengine.WatchOptions{Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	clientPut(t, client, "k", "v")
	if e := next(t, w); describe(e) != `put k="v"` {
		t.Fatalf("event %s", describe(e))
	}
	w.Close()
	noHandlesAfterClientsClose(t, c, client)
}

// The watch connects to the leader, which is stopped, then restarted
// while the node it moved to is stopped: every write arrives once, in
// order.
func TestClientWatchSurvivesItsServerStopping(t *testing.T) {
	c, client := kvClusterWithClients(t, 3, nil)
	ctx := ctxFor(t)
	leader := c.leader()
	endpoints := []string{c.clientAddrs[leader]} // the watch starts on the first
	var others []uint64
	for id := uint64(1); id <= 3; id++ {
		if id != leader {
			endpoints = append(endpoints, c.clientAddrs[id])
			others = append(others, id)
		}
	}
	watching := openClient(t, endpoints...)
	w, err := watching.Watch(ctx, dengine.WatchOptions{Key: []byte("s/"), Prefix: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	var want []string
	write := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			key := fmt.Sprintf("s/%02d", i)
			clientPut(t, client, key, "v")
			want = append(want, fmt.Sprintf(`put %s="v"`, key))
		}
	}
	write(0, 5)
	expectEvents(t, w, want)

	c.stop(leader) // the watch's server, and the leader
	c.leader()
	write(5, 10)
	c.start(leader, nil)
	c.converged()
	write(10, 15)
	c.stop(others[0]) // the next endpoint, where the watch went on
	c.leader()
	write(15, 20)

	// Everything once, in order: after the last write, its event, no other.
	expectEvents(t, w, want[5:])
	clientPut(t, client, "s/last", "v")
	expectEvents(t, w, []string{`put s/last="v"`})
	if err := w.Err(); err != nil {
		t.Fatalf("the watch ended: %v", err)
	}
	w.Close()
	noHandlesAfterClientsClose(t, c, watching, client)
}

// A client's watch waits for room in its channel: a reader that lets it
// fill up loses nothing.
func TestClientWatchWaitsForASlowReader(t *testing.T) {
	c, client := kvClusterWithClients(t, 1, nil)
	w, err := client.Watch(ctxFor(t), dengine.WatchOptions{Prefix: true, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 5; i++ {
		key := fmt.Sprintf("k%d", i)
		clientPut(t, client, key, "v")
		want = append(want, fmt.Sprintf(`put %s="v"`, key))
	}
	waitFor(t, "the channel to fill", func() bool { return len(w.Events()) == cap(w.Events()) })
	expectEvents(t, w, want)
	if err := w.Err(); err != nil {
		t.Fatalf("a slow reader's watch ended: %v", err)
	}
	w.Close()
	noHandlesAfterClientsClose(t, c, client)
}

// Closing the client ends its watches with ErrShuttingDown, even one
// waiting for room in a full channel; NextRevision resumes with no gap.
func TestClosingTheClientEndsItsWatches(t *testing.T) {
	c, client := kvClusterWithClients(t, 1, nil)
	ctx := ctxFor(t)
	w, err := client.Watch(ctx, dengine.WatchOptions{Prefix: true, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < 3; i++ {
		key := fmt.Sprintf("k%d", i)
		clientPut(t, client, key, "v")
		want = append(want, fmt.Sprintf(`put %s="v"`, key))
	}
	waitFor(t, "the channel to fill", func() bool { return len(w.Events()) == cap(w.Events()) })
	closed := make(chan struct{})
	go func() {
		client.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(patience):
		t.Fatal("Client.Close waits for a watch whose channel is full")
	}
	// Close has ended the watch: its channel is closed already.
	var got []string
	for open := true; open; {
		select {
		case e, ok := <-w.Events():
			if open = ok; ok {
				got = append(got, describe(e))
			}
		default:
			t.Fatal("a watch's channel is still open after its client closed")
		}
	}
	if err := w.Err(); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("Err after the client closed: %v", err)
	}
	if _, err := client.Watch(ctx, dengine.WatchOptions{Prefix: true}); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("Watch on a closed client: %v", err)
	}

	again := openClient(t, c.clientAddrs[1])
	resumed, err := again.Watch(ctx, dengine.WatchOptions{Prefix: true, StartRevision: w.NextRevision()})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	expectEvents(t, resumed, want[len(got):])
	if fmt.Sprint(got) != fmt.Sprint(want[:len(got)]) {
		t.Fatalf("before the close: %v, want the start of %v", got, want)
	}
	resumed.Close()
	noHandlesAfterClientsClose(t, c, again)
}

func TestClientWatchClusterStream(t *testing.T) {
	c, client := kvClusterWithClients(t, 1, nil)
	oldest, _, err := c.nodes[1].WatchRange()
	if err != nil {
		t.Fatal(err)
	}
	// Key and Prefix are unused on WatchCluster, through a client too.
	w, err := client.Watch(ctxFor(t), dengine.WatchOptions{Stream: dengine.WatchCluster,
		Key: []byte("ignored"), Prefix: true, StartRevision: oldest})
	if err != nil {
		t.Fatal(err)
	}
	added, promoted, leader := next(t, w), next(t, w), next(t, w)
	if added.Type != dengine.EventMemberAdded || added.NodeID != 1 ||
		promoted.Type != dengine.EventMemberPromoted || promoted.NodeID != 1 ||
		leader.Type != dengine.EventLeader || leader.NodeID != 1 {
		t.Fatalf("bootstrap events: %+v, %+v, %+v", added, promoted, leader)
	}
	w.Close()
	noHandlesAfterClientsClose(t, c, client)
}

func TestClientWatchRefusesBadOptions(t *testing.T) {
	c, client := kvClusterWithClients(t, 1, nil)
	ctx := ctxFor(t)
	for _, tc := range []struct {
		opts dengine.WatchOptions
		want string
	}{
		{dengine.WatchOptions{}, "key"},
		{dengine.WatchOptions{Stream: dengine.WatchTopic}, "key"},
		{dengine.WatchOptions{Stream: dengine.WatchStream(7), Prefix: true}, "unknown stream 7"},
		{dengine.WatchOptions{Prefix: true, Buffer: -1}, "the buffer must not be negative"},
	} {
		_, err := client.Watch(ctx, tc.opts)
		var e *dengine.Error
		if !errors.Is(err, dengine.ErrInvalidArgument) || !errors.As(err, &e) || e.Op != "Watch" ||
			!strings.Contains(e.Message, tc.want) {
			t.Errorf("Watch(%+v): %v, want a message with %q", tc.opts, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := client.Watch(cancelled, dengine.WatchOptions{Prefix: true}); err != context.Canceled {
		t.Errorf("Watch with a cancelled context: %v", err)
	}
	noHandlesAfterClientsClose(t, c, client)
}
