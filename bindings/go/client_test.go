package dengine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/testmachine"
)

// clientOf starts a one-node cluster serving clients and opens a client.
func clientOf(t *testing.T, configure func(*dengine.Config)) *dengine.Client {
	address := freeAddress(t)
	c := newCluster(t, 1, func(cfg *dengine.Config) {
		cfg.ClientAddress = address
		if configure != nil {
			configure(cfg)
		}
	})
	c.leader()
	client, err := dengine.OpenClient([]string{address}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func TestClientOfTheBuiltInMachine(t *testing.T) {
	client := clientOf(t, func(cfg *dengine.Config) { cfg.StateMachine = nil })
	ctx := ctxFor(t)
	if err := client.Put(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := client.PutTTL(ctx, []byte("b"), []byte("2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, err := client.Get(ctx, []byte("a"), dengine.ReadLinearizable); err != nil || string(v) != "1" {
		t.Fatalf("get: %q, %v", v, err)
	}
	if swapped, err := client.CompareAndSwap(ctx, []byte("a"), []byte("1"), []byte("3")); err != nil || !swapped {
		t.Fatalf("cas: %v, %v", swapped, err)
	}
	items, err := client.GetMulti(ctx, [][]byte{[]byte("a"), []byte("zz")}, dengine.ReadDefault)
	if err != nil || len(items) != 2 || string(items[0].Value) != "3" || items[1].Found {
		t.Fatalf("get multi: %+v, %v", items, err)
	}
	items, more, err := client.ScanPrefix(ctx, nil, 10, dengine.ReadDefault)
	if err != nil || len(items) != 2 || more {
		t.Fatalf("scan: %+v, %v, %v", items, more, err)
	}
	if existed, err := client.Delete(ctx, []byte("a")); err != nil || !existed {
		t.Fatalf("delete: %v, %v", existed, err)
	}
	if _, err := client.Get(ctx, []byte("a"), dengine.ReadDefault); !errors.Is(err, dengine.ErrNotFound) {
		t.Fatalf("get a deleted key: %v", err)
	}
	s, err := client.Status(ctx)
	if err != nil || s.Role != dengine.RoleLeader || len(s.Members) != 1 {
		t.Fatalf("status: %+v, %v", s, err)
	}
	if index, err := client.Snapshot(ctx); err != nil || index == 0 {
		t.Fatalf("snapshot: %d, %v", index, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := client.Put(cancelled, []byte("k"), []byte("v")); err != context.Canceled {
		t.Fatalf("put with a cancelled context: %v", err)
	}
	client.Close()
	if err := client.Put(ctx, []byte("k"), []byte("v")); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("put on a closed client: %v", err)
	}
}

func TestClientOfAGoMachine(t *testing.T) {
	client := clientOf(t, nil)
	ctx := ctxFor(t)
	if _, err := client.Propose(ctx, testmachine.Set("k", "v1")); err != nil {
		t.Fatal(err)
	}
	if res, err := client.Propose(ctx, testmachine.Set("k", "v2")); err != nil || string(res.Data) != "v1" {
		t.Fatalf("propose: %+v, %v", res, err)
	}
	if v, err := client.Read(ctx, []byte("k"), dengine.ReadLinearizable); err != nil || string(v) != "v2" {
		t.Fatalf("read: %q, %v", v, err)
	}
}

// deadlineOnly carries a deadline but is never cancelled in Go (Done is
// nil), so a call under it ends only when dengine gives up at the deadline.
type deadlineOnly struct {
	context.Context
	deadline time.Time
}

func (d deadlineOnly) Deadline() (time.Time, bool) { return d.deadline, true }

func TestClientCallsEndAtTheirContextsDeadline(t *testing.T) {
	client, err := dengine.OpenClient([]string{freeAddress(t)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// No server: without the context's deadline passed to dengine, the call
	// would retry for the client's hour.
	done := make(chan error, 1)
	go func() {
		ctx := deadlineOnly{context.Background(), time.Now().Add(300 * time.Millisecond)}
		_, err := client.Get(ctx, []byte("k"), dengine.ReadDefault)
		done <- err
	}()
	select {
	case err := <-done:
		var e *dengine.Error
		if !errors.As(err, &e) || (e.Code != dengine.CodeIO && e.Code != dengine.CodeTimeout) ||
			!strings.Contains(e.Message, "gave up after") {
			t.Fatalf("get with no server: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("a client call outlived its context's deadline") // and holds the client: no Close
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := client.Propose(ctx, testmachine.Set("k", "v")); err == nil {
		t.Fatal("a propose with no server succeeded")
	}
	client.Close()
}

func TestClientCodecErrors(t *testing.T) {
	client, err := dengine.OpenClient([]string{freeAddress(t)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// Refused by the encoder, before the client connects.
	_, err = client.CompareAndSwap(ctxFor(t), nil, nil, []byte("v"))
	var e *dengine.Error
	if !errors.As(err, &e) || e.Code != dengine.CodeInvalidArgument || e.Op != "CompareAndSwap" ||
		e.Message != "dengine_kv_encode_cas: empty key" {
		t.Fatalf("cas with an empty key: %v", err)
	}
}

// clusterWithClients starts a cluster of size nodes, each serving clients
// (at c.clientAddrs; configure, if set, adjusts each node's config), and
// opens a client of all of them.
func clusterWithClients(t *testing.T, size int, configure func(*dengine.Config)) (*cluster, *dengine.Client) {
	clientAddrs := map[uint64]string{}
	var endpoints []string
	for id := uint64(1); id <= uint64(size); id++ {
		clientAddrs[id] = freeAddress(t)
		endpoints = append(endpoints, clientAddrs[id])
	}
	c := newCluster(t, size, func(cfg *dengine.Config) {
		cfg.ClientAddress = clientAddrs[cfg.NodeID]
		cfg.PeerClientAddresses = map[uint64]string{}
		for id, address := range clientAddrs {
			if id != cfg.NodeID {
				cfg.PeerClientAddresses[id] = address
			}
		}
		if configure != nil {
			configure(cfg)
		}
	})
	c.clientAddrs = clientAddrs
	return c, openClient(t, endpoints...)
}

// openClient opens a client of endpoints, closed when the test ends.
func openClient(t *testing.T, endpoints ...string) *dengine.Client {
	t.Helper()
	client, err := dengine.OpenClient(endpoints, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// membersOf is a status's members as "id:voter" strings, in order.
func membersOf(s dengine.Status) []string {
	var out []string
	for _, m := range s.Members {
		out = append(out, fmt.Sprintf("%d:%v", m.ID, m.Voter))
	}
	return out
}

// Status, Snapshot and the membership calls through a client (dengine's
// async client calls), their errors with dengine's message, and ctx.
func TestClientAdminCalls(t *testing.T) {
	c, client := clusterWithClients(t, 3, nil)
	leader := c.leader()
	ctx := ctxFor(t)
	if _, err := client.Propose(ctx, testmachine.Set("k", "v")); err != nil { // finds the leader
		t.Fatal(err)
	}
	s, err := client.Status(ctx)
	if err != nil || s.Role != dengine.RoleLeader || s.ID != leader || s.LeaderID != leader ||
		len(s.Members) != 3 || s.Fatal != nil {
		t.Fatalf("status: %+v, %v", s, err)
	}
	if index, err := client.Snapshot(ctx); err != nil || index < s.AppliedIndex {
		t.Fatalf("snapshot: %d, %v (applied: %d)", index, err, s.AppliedIndex)
	}

	// A learner nobody runs: the voters commit its addition and removal.
	if err := client.AddLearner(ctx, 4, freeAddress(t)); err != nil {
		t.Fatalf("add learner: %v", err)
	}
	if s, err := client.Status(ctx); err != nil || fmt.Sprint(membersOf(s)) != "[1:true 2:true 3:true 4:false]" {
		t.Fatalf("status after add learner: %v, %v", membersOf(s), err)
	}
	if err := client.Remove(ctx, 4); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if s, err := client.Status(ctx); err != nil || len(s.Members) != 3 {
		t.Fatalf("status after remove: %v, %v", membersOf(s), err)
	}

	// Errors carry dengine's code and message, from the async call's reply.
	err = client.Promote(ctx, 99)
	var e *dengine.Error
	if !errors.Is(err, dengine.ErrInvalidArgument) || !errors.As(err, &e) ||
		e.Code != dengine.CodeInvalidArgument || e.Op != "Promote" || !strings.Contains(e.Message, "99") {
		t.Fatalf("promote of an unknown node: %v", err)
	}

	to := c.follower(leader)
	if err := client.TransferLeadership(ctx, to); err != nil {
		t.Fatalf("transfer leadership to %d: %v", to, err)
	}
	if now := c.leader(); now != to {
		t.Fatalf("leader after the transfer: %d, want %d", now, to)
	}

	// A context that ended before the call: nothing is started.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := client.Status(cancelled); err != context.Canceled {
		t.Fatalf("status with a cancelled context: %v", err)
	}
	if _, err := client.Snapshot(cancelled); err != context.Canceled {
		t.Fatalf("snapshot with a cancelled context: %v", err)
	}
	if err := client.Promote(cancelled, 2); err != context.Canceled {
		t.Fatalf("promote with a cancelled context: %v", err)
	}
	client.Close()
	if _, err := client.Status(ctx); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("status on a closed client: %v", err)
	}
	if err := client.Remove(ctx, 2); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("remove on a closed client: %v", err)
	}
}

// A client's async calls return ctx.Err() at ctx's deadline while dengine
// still retries them (no server answers) within the client's timeout, and
// Close ends them: no handle stays live.
func TestClientAdminCallsEndWithTheirContext(t *testing.T) {
	live := dengine.LiveHandles()
	client, err := dengine.OpenClient([]string{freeAddress(t)}, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := client.Status(ctx); err != context.DeadlineExceeded {
		t.Fatalf("status with no server: %v", err)
	}
	// Queued behind the Status still running.
	if _, err := client.Snapshot(ctx); err != context.DeadlineExceeded {
		t.Fatalf("snapshot with no server: %v", err)
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancelNow() }()
	if err := client.Promote(cancelled, 2); err != context.Canceled {
		t.Fatalf("promote with no server: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("the calls returned after %v, not at their contexts' end", elapsed)
	}
	client.Close()
	if n := dengine.LiveHandles(); n != live {
		t.Fatalf("%d cgo handles live after Close, %d before the calls", n, live)
	}
}
