package dengine_test

import (
	"context"
	"errors"
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
