package dengine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/testmachine"
)

// Many start/stop cycles of one node with a Go machine, with requests in
// flight when it closes: afterwards no cgo handle is live and every
// goroutine the binding started has ended.
func TestStartStopCyclesLeakNothing(t *testing.T) {
	const cycles = 20
	goroutines := runtime.NumGoroutine()
	dir := t.TempDir()
	m, err := testmachine.Open(filepath.Join(dir, "machine"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := dengine.Config{NodeID: 1, DataDir: filepath.Join(dir, "node"), InitialVoters: []uint64{1},
		StateMachine: m, Timing: testTiming}
	ctx := ctxFor(t)
	for i := 0; i < cycles; i++ {
		n, err := dengine.StartNode(cfg)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		n.OnLeaderChange(func(dengine.LeaderChange) {})
		waitFor(t, "the node to lead", func() bool {
			s, err := n.Status()
			return err == nil && s.Role == dengine.RoleLeader
		})
		if _, err := n.Propose(ctx, testmachine.Set(fmt.Sprintf("k%d", i), "x")); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if i%5 == 0 {
			if _, err := n.Snapshot(ctx); err != nil {
				t.Fatalf("cycle %d: %v", i, err)
			}
		}
		// Requests racing Close, some abandoned by their context.
		abandoned, cancel := context.WithCancel(ctx)
		done := make(chan struct{}, 3)
		go func() { n.Propose(abandoned, testmachine.Set("racing", "x")); done <- struct{}{} }()
		go func() { n.Read(ctx, []byte("k0"), dengine.ReadLinearizable); done <- struct{}{} }()
		go func() { n.Put(abandoned, []byte("k"), []byte("v")); done <- struct{}{} }()
		cancel()
		if err := n.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", i, err)
		}
		for j := 0; j < 3; j++ {
			<-done
		}
		if live := dengine.LiveHandles(); live != 0 {
			t.Fatalf("cycle %d: %d cgo handles live after Close", i, live)
		}
	}
	waitFor(t, "the binding's goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines })
	if state := m.State(); len(state) < cycles {
		t.Fatalf("the machine kept %d keys over %d restarts", len(state), cycles)
	}
}
