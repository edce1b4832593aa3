package dengine_test

import (
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

func TestThreeNodesRunAGoMachine(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := ctxFor(t)
	leader := c.leader()
	follower := c.follower(leader)

	for i := 1; i <= 10; i++ {
		res, err := c.nodes[leader].Propose(ctx, testmachine.Set(fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)))
		if err != nil || res.Status != 0 || len(res.Data) != 0 {
			t.Fatalf("propose k%d: %+v, %v", i, res, err)
		}
	}
	// The machine's result comes back: the previous value; a malformed
	// command is the machine's status 1, not an error.
	res, err := c.nodes[leader].Propose(ctx, testmachine.Set("k1", "again"))
	if err != nil || string(res.Data) != "v1" {
		t.Fatalf("overwrite k1: %+v, %v", res, err)
	}
	if res, err := c.nodes[leader].Propose(ctx, []byte("no equals sign")); err != nil || res.Status != 1 {
		t.Fatalf("malformed command: %+v, %v", res, err)
	}

	// A follower refuses writes and names the leader.
	_, err = c.nodes[follower].Propose(ctx, testmachine.Set("x", "y"))
	var notLeader *dengine.NotLeaderError
	if !errors.Is(err, dengine.ErrNotLeader) || !errors.As(err, &notLeader) {
		t.Fatalf("propose on a follower: %v", err)
	}
	if notLeader.LeaderID != leader || notLeader.LeaderAddress != c.addrs[leader] {
		t.Fatalf("leader hint %d %q, want %d %q", notLeader.LeaderID, notLeader.LeaderAddress,
			leader, c.addrs[leader])
	}

	// Reads at each consistency; a linearizable read on a follower sees
	// every acknowledged write.
	if v, err := c.nodes[follower].Read(ctx, []byte("k1"), dengine.ReadLinearizable); err != nil || string(v) != "again" {
		t.Fatalf("linearizable read on a follower: %q, %v", v, err)
	}
	if v, err := c.nodes[leader].Read(ctx, []byte("k10"), dengine.ReadLease); err != nil || string(v) != "v10" {
		t.Fatalf("lease read: %q, %v", v, err)
	}
	waitFor(t, "an eventual read to see k10", func() bool {
		v, err := c.nodes[follower].Read(ctx, []byte("k10"), dengine.ReadEventual)
		return err == nil && string(v) == "v10"
	})
	if _, err := c.nodes[leader].Read(ctx, []byte("absent"), dengine.ReadDefault); !errors.Is(err, dengine.ErrNotFound) {
		t.Fatalf("read of an absent key: %v", err)
	}

	// Many proposals in flight from many goroutines.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.nodes[leader].Propose(ctx, testmachine.Set(fmt.Sprintf("c%d", i), "x")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent propose: %v", err)
	}

	state := c.converged()
	if len(state) != 60 || state["k1"] != "again" || state["c49"] != "x" {
		t.Fatalf("replicated state has %d keys: %v", len(state), state)
	}
}

// gatedMachine blocks Apply while its gate is closed.
type gatedMachine struct {
	*testmachine.Machine
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // signalled when a gated Apply starts waiting
}

func (g *gatedMachine) Apply(entries []dengine.Entry) ([]dengine.Result, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.entered <- struct{}{}
		<-gate
	}
	return g.Machine.Apply(entries)
}

func (g *gatedMachine) close() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedMachine) open() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

func TestProposeHonoursContext(t *testing.T) {
	m, err := testmachine.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gated := &gatedMachine{Machine: m, entered: make(chan struct{}, 1)}
	c := newCluster(t, 1, func(cfg *dengine.Config) { cfg.StateMachine = gated })
	n := c.nodes[c.leader()]
	ctx := ctxFor(t)
	if _, err := n.Propose(ctx, testmachine.Set("a", "1")); err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.Propose(cancelled, testmachine.Set("never", "1")); err != context.Canceled {
		t.Fatalf("propose with a cancelled context: %v", err)
	}

	// Cancelled while the entry is being applied: Propose returns at once
	// with ctx.Err(), and the entry still applies.
	gated.close()
	t.Cleanup(func() {
		if gated.gate != nil {
			gated.open()
		}
	})
	cancellable, cancel := context.WithCancel(ctx)
	proposed := make(chan error, 1)
	go func() {
		_, err := n.Propose(cancellable, testmachine.Set("late", "1"))
		proposed <- err
	}()
	<-gated.entered
	cancel()
	if err := <-proposed; err != context.Canceled {
		t.Fatalf("propose cancelled during apply: %v", err)
	}
	gated.open()
	waitFor(t, "the cancelled proposal to apply", func() bool {
		v, err := n.Read(ctx, []byte("late"), dengine.ReadEventual)
		return err == nil && string(v) == "1"
	})

	// A deadline that passes during apply reads as context.DeadlineExceeded,
	// whether Go or dengine notices it first.
	gated.close()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	go func() {
		_, err := n.Propose(short, testmachine.Set("slow", "1"))
		proposed <- err
	}()
	<-gated.entered
	if err := <-proposed; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("propose past its deadline: %v", err)
	}
	gated.open()
}

func TestLeaderChangesAndMembership(t *testing.T) {
	c := newCluster(t, 3, nil)
	ctx := ctxFor(t)
	leader := c.leader()
	follower := c.follower(leader)

	changes := make(chan dengine.LeaderChange, 64)
	c.nodes[follower].OnLeaderChange(func(ch dengine.LeaderChange) { changes <- ch })
	if err := c.nodes[leader].TransferLeadership(ctx, follower); err != nil {
		t.Fatal(err)
	}
	for ch := range changes {
		if ch.LeaderID == follower {
			break
		}
	}
	c.nodes[follower].OnLeaderChange(nil)
	if _, err := c.nodes[follower].Propose(ctx, testmachine.Set("after", "transfer")); err != nil {
		t.Fatal(err)
	}

	// Remove the old leader: two members remain and still agree.
	if err := c.nodes[follower].Remove(ctx, leader); err != nil {
		t.Fatal(err)
	}
	s, err := c.nodes[follower].Status()
	if err != nil || s.Role != dengine.RoleLeader || len(s.Members) != 2 {
		t.Fatalf("status after remove: %+v, %v", s, err)
	}
	for _, m := range s.Members {
		if m.ID == leader || !m.Voter {
			t.Fatalf("members after remove: %+v", s.Members)
		}
	}
	c.stop(leader)
	if _, err := c.nodes[follower].Propose(ctx, testmachine.Set("two", "nodes")); err != nil {
		t.Fatal(err)
	}
	c.converged()
}

func TestKVHelpersOnTheBuiltInMachine(t *testing.T) {
	c := newCluster(t, 1, func(cfg *dengine.Config) { cfg.StateMachine = nil })
	n := c.nodes[c.leader()]
	ctx := ctxFor(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.Put(ctx, []byte("a"), []byte("1")))
	must(n.Put(ctx, []byte("ab"), []byte("2")))
	must(n.PutTTL(ctx, []byte("ttl"), []byte("t"), time.Hour))
	if v, err := n.Get(ctx, []byte("a"), dengine.ReadLease); err != nil || string(v) != "1" {
		t.Fatalf("get a: %q, %v", v, err)
	}
	if swapped, err := n.CompareAndSwap(ctx, []byte("a"), []byte("0"), []byte("9")); err != nil || swapped {
		t.Fatalf("cas with a wrong expectation: %v, %v", swapped, err)
	}
	if swapped, err := n.CompareAndSwap(ctx, []byte("new"), nil, []byte("n")); err != nil || !swapped {
		t.Fatalf("cas of an absent key: %v, %v", swapped, err)
	}
	if swapped, err := n.CompareAndSwap(ctx, []byte("a"), []byte("1"), []byte("")); err != nil || !swapped {
		t.Fatalf("cas to an empty value: %v, %v", swapped, err)
	}
	if swapped, err := n.CompareAndSwap(ctx, []byte("a"), []byte{}, []byte("1")); err != nil || !swapped {
		t.Fatalf("cas expecting an empty value: %v, %v", swapped, err)
	}
	items, err := n.GetMulti(ctx, [][]byte{[]byte("a"), []byte("missing"), []byte("new")}, dengine.ReadDefault)
	if err != nil || len(items) != 3 || !items[0].Found || items[1].Found || string(items[2].Value) != "n" {
		t.Fatalf("get multi: %+v, %v", items, err)
	}
	items, more, err := n.ScanPrefix(ctx, []byte("a"), 1, dengine.ReadLinearizable)
	if err != nil || len(items) != 1 || !more || string(items[0].Key) != "a" {
		t.Fatalf("scan with limit 1: %+v, %v, %v", items, more, err)
	}
	items, more, err = n.ScanPrefix(ctx, nil, 10, dengine.ReadEventual)
	if err != nil || len(items) != 4 || more {
		t.Fatalf("scan everything: %+v, %v, %v", items, more, err)
	}
	if existed, err := n.Delete(ctx, []byte("a")); err != nil || !existed {
		t.Fatalf("delete a: %v, %v", existed, err)
	}
	if _, err := n.Get(ctx, []byte("a"), dengine.ReadEventual); !errors.Is(err, dengine.ErrNotFound) {
		t.Fatalf("get a deleted key: %v", err)
	}
	var e *dengine.Error
	if err := n.PutTTL(ctx, []byte("t"), []byte("v"), 0); !errors.As(err, &e) || e.Code != dengine.CodeInvalidArgument ||
		!strings.Contains(e.Message, "ttl") {
		t.Fatalf("put with a zero TTL: %v", err)
	}
	if err := n.Put(ctx, nil, []byte("v")); !errors.Is(err, dengine.ErrInvalidArgument) {
		t.Fatalf("put with an empty key: %v", err)
	}
	// A proposal that is not a KV command is the machine's "bad command".
	if res, err := n.Propose(ctx, []byte("garbage")); err != nil || res.Status != 3 {
		t.Fatalf("propose garbage: %+v, %v", res, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := n.Put(cancelled, []byte("k"), []byte("v")); err != context.Canceled {
		t.Fatalf("put with a cancelled context: %v", err)
	}

	must(n.Close())
	if err := n.Put(ctx, []byte("late"), []byte("x")); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("put on a closed node: %v", err)
	}
	if _, err := n.Status(); !errors.Is(err, dengine.ErrShuttingDown) {
		t.Fatalf("status of a closed node: %v", err)
	}
	must(n.Close())
}

func TestKVHelpersNeedTheBuiltInMachine(t *testing.T) {
	c := newCluster(t, 1, nil)
	n := c.nodes[c.leader()]
	if err := n.Put(ctxFor(t), []byte("k"), []byte("v")); !errors.Is(err, dengine.ErrUnsupported) {
		t.Fatalf("put on an application machine: %v", err)
	}
}

func TestPutTTLThroughTheNodeExpiresByTheLeadersClock(t *testing.T) {
	c := newCluster(t, 1, func(cfg *dengine.Config) { cfg.StateMachine = nil })
	n := c.nodes[c.leader()]
	ctx := ctxFor(t)
	// The leader stamps the encoded put with its clock as it proposes it: the
	// key is there right after, and gone once its TTL has run out.
	if err := n.PutTTL(ctx, []byte("hour"), []byte("h"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := n.PutTTL(ctx, []byte("brief"), []byte("b"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, err := n.Get(ctx, []byte("hour"), dengine.ReadLinearizable); err != nil || string(v) != "h" {
		t.Fatalf("get right after a put with a TTL: %q, %v", v, err)
	}
	waitFor(t, "the brief key to expire", func() bool {
		_, err := n.Get(ctx, []byte("brief"), dengine.ReadLinearizable)
		return errors.Is(err, dengine.ErrNotFound)
	})
	if v, err := n.Get(ctx, []byte("hour"), dengine.ReadLinearizable); err != nil || string(v) != "h" {
		t.Fatalf("get of a key an hour from expiry: %q, %v", v, err)
	}
}

// Errors carry dengine's message as it is, "function: why" or a plain
// reason, without the code's name that Error() already prints.
func TestKVErrorsCarryDenginesMessage(t *testing.T) {
	noCodeName := func(t *testing.T, what string, err error, code dengine.Code) *dengine.Error {
		t.Helper()
		var e *dengine.Error
		if !errors.As(err, &e) || e.Code != code || e.Message == "" ||
			strings.HasPrefix(e.Message, code.String()) {
			t.Fatalf("%s: %v, want a %s error with a message not starting %q", what, err, code, code.String())
		}
		return e
	}
	c := newCluster(t, 3, func(cfg *dengine.Config) { cfg.StateMachine = nil })
	ctx := ctxFor(t)
	leader := c.leader()
	follower := c.nodes[c.follower(leader)]

	err := follower.Put(ctx, []byte("k"), []byte("v"))
	noCodeName(t, "put on a follower", err, dengine.CodeNotLeader)
	var notLeader *dengine.NotLeaderError
	if !errors.As(err, &notLeader) || notLeader.LeaderID != leader || notLeader.LeaderAddress != c.addrs[leader] {
		t.Fatalf("put on a follower: %v, want node %d at %s named", err, leader, c.addrs[leader])
	}

	// The codec refuses bad input before anything is proposed.
	e := noCodeName(t, "put with an empty key", follower.Put(ctx, nil, []byte("v")), dengine.CodeInvalidArgument)
	if e.Message != "dengine_kv_encode_put: empty key" || e.Op != "Put" ||
		e.Error() != "dengine: Put: invalid argument: dengine_kv_encode_put: empty key" {
		t.Fatalf("put with an empty key: %q (op %q, message %q)", e.Error(), e.Op, e.Message)
	}
	_, _, err = follower.ScanPrefix(ctx, []byte("p"), 0, dengine.ReadDefault)
	if e := noCodeName(t, "scan with limit 0", err, dengine.CodeInvalidArgument); !strings.HasPrefix(e.Message,
		"dengine_kv_encode_scan_prefix: ") {
		t.Fatalf("scan with limit 0: %v", err)
	}
	_, err = follower.GetMulti(ctx, [][]byte{[]byte("a"), nil}, dengine.ReadDefault)
	if e := noCodeName(t, "get multi with an empty key", err, dengine.CodeInvalidArgument); e.Message !=
		"dengine_kv_encode_get_multi: key 1 is empty" {
		t.Fatalf("get multi with an empty key: %v", err)
	}

	app := newCluster(t, 1, nil)
	_, err = app.nodes[app.leader()].Get(ctx, []byte("k"), dengine.ReadDefault)
	noCodeName(t, "get on an application machine", err, dengine.CodeUnsupported)
}

func TestBadConfigurationIsRefused(t *testing.T) {
	_, err := dengine.StartNode(dengine.Config{StateMachine: &testmachine.Machine{}})
	var e *dengine.Error
	if !errors.As(err, &e) || e.Code != dengine.CodeInvalidArgument || !strings.Contains(e.Message, "node id") {
		t.Fatalf("start without a node id: %v", err)
	}
	_, err = dengine.StartNode(dengine.Config{NodeID: 1, DataDir: t.TempDir(), InitialVoters: []uint64{2}})
	if !errors.Is(err, dengine.ErrInvalidArgument) || !strings.Contains(err.Error(), "initial_voters") {
		t.Fatalf("start with voters that exclude the node: %v", err)
	}
	_, err = dengine.StartNode(dengine.Config{NodeID: 1, DataDir: t.TempDir(), ListenAddress: "nowhere"})
	if !errors.Is(err, dengine.ErrInvalidArgument) {
		t.Fatalf("start with a bad listen address: %v", err)
	}
	if n := dengine.LiveHandles(); n != 0 {
		t.Fatalf("%d handles live after failed starts", n)
	}
}

// failingMachine fails (or panics) when it applies the command "fail" (or
// "panic").
type failingMachine struct{ *testmachine.Machine }

func (f failingMachine) Apply(entries []dengine.Entry) ([]dengine.Result, error) {
	for _, e := range entries {
		switch string(e.Data) {
		case "fail":
			return nil, errors.New("the disk is on fire")
		case "panic":
			panic("apply panicked")
		}
	}
	return f.Machine.Apply(entries)
}

func TestAFailedApplyStopsTheNode(t *testing.T) {
	for _, command := range []string{"fail", "panic"} {
		t.Run(command, func(t *testing.T) {
			logs := captureLogs(t)
			m, err := testmachine.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c := newCluster(t, 1, func(cfg *dengine.Config) { cfg.StateMachine = failingMachine{m} })
			id := c.leader()
			n := c.nodes[id]
			ctx := ctxFor(t)
			if _, err := n.Propose(ctx, testmachine.Set("a", "1")); err != nil {
				t.Fatal(err)
			}
			if _, err := n.Propose(ctx, []byte(command)); !errors.Is(err, dengine.ErrStateMachine) {
				t.Fatalf("propose %q: %v", command, err)
			}
			waitFor(t, "the status to report the failure", func() bool {
				s, err := n.Status()
				return err == nil && errors.Is(s.Fatal, dengine.ErrStateMachine)
			})
			if _, err := n.Propose(ctx, testmachine.Set("b", "1")); !errors.Is(err, dengine.ErrStateMachine) {
				t.Fatalf("propose after a failed apply: %v", err)
			}
			if err := n.Close(); !errors.Is(err, dengine.ErrStateMachine) {
				t.Fatalf("close after a failed apply: %v", err)
			}
			delete(c.nodes, id)
			want := map[string]string{"fail": "the disk is on fire", "panic": "apply panicked"}[command]
			if !logs.contains(want) {
				t.Fatalf("no log line mentions %q:\n%s", want, logs)
			}
		})
	}
}
