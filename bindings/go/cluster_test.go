package dengine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/testmachine"
)

// How long a test waits for a condition (an election, replication) before
// it fails: far above what any of them takes on a loaded machine.
const patience = 20 * time.Second

// Fast Raft timing for tests: 20 ms ticks, elections after 200-400 ms.
var testTiming = &dengine.Timing{Tick: 20 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 2}

// waitFor polls cond until it holds, failing t after patience.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Addresses freeAddress handed out, never handed out again.
var (
	handedOutMu sync.Mutex
	handedOut   = map[string]bool{}
)

// freeAddress is a loopback address nobody listens on right now, and never
// one handed out before in this process (two nodes of one cluster must not
// be told the same address), with a port below Linux's ephemeral range
// (32768-60999), so that no outgoing connection takes it before the node
// listens on it.
func freeAddress(t testing.TB) string {
	t.Helper()
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	for {
		address := fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(20000))
		if handedOut[address] {
			continue
		}
		if l, err := net.Listen("tcp", address); err == nil {
			l.Close()
			handedOut[address] = true
			return address
		}
	}
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// cluster is a set of nodes in this process, each with a testmachine.
type cluster struct {
	t        testing.TB
	dir      string
	addrs    map[uint64]string
	nodes    map[uint64]*dengine.Node
	machines map[uint64]*testmachine.Machine
	// clientAddrs: each node's client address, when it serves clients.
	clientAddrs map[uint64]string
	// configure, if set, adjusts each node's config before it starts.
	configure func(*dengine.Config)
}

func newCluster(t testing.TB, size int, configure func(*dengine.Config)) *cluster {
	c := &cluster{t: t, dir: t.TempDir(), addrs: map[uint64]string{},
		nodes: map[uint64]*dengine.Node{}, machines: map[uint64]*testmachine.Machine{},
		configure: configure}
	var voters []uint64
	for id := uint64(1); id <= uint64(size); id++ {
		c.addrs[id] = freeAddress(t)
		voters = append(voters, id)
	}
	t.Cleanup(c.closeAll)
	for _, id := range voters {
		c.start(id, voters)
	}
	return c
}

// start starts node id (voters: the initial voters of a new cluster, nil
// for a node that joins), with its machine in dir/machine<id>.
func (c *cluster) start(id uint64, voters []uint64) {
	c.t.Helper()
	if _, ok := c.addrs[id]; !ok {
		c.addrs[id] = freeAddress(c.t)
	}
	m, err := testmachine.Open(filepath.Join(c.dir, fmt.Sprintf("machine%d", id)))
	if err != nil {
		c.t.Fatal(err)
	}
	peers := map[uint64]string{}
	for peer, addr := range c.addrs {
		if peer != id {
			peers[peer] = addr
		}
	}
	cfg := dengine.Config{
		NodeID:        id,
		DataDir:       filepath.Join(c.dir, fmt.Sprintf("node%d", id)),
		ListenAddress: c.addrs[id],
		Peers:         peers,
		InitialVoters: voters,
		StateMachine:  m,
		Timing:        testTiming,
	}
	if c.configure != nil {
		c.configure(&cfg)
	}
	n, err := dengine.StartNode(cfg)
	if err != nil {
		c.t.Fatalf("start node %d: %v", id, err)
	}
	c.nodes[id], c.machines[id] = n, m
}

// stop closes node id.
func (c *cluster) stop(id uint64) {
	c.t.Helper()
	if err := c.nodes[id].Close(); err != nil {
		c.t.Errorf("close node %d: %v", id, err)
	}
	delete(c.nodes, id)
}

func (c *cluster) closeAll() {
	for id := range c.nodes {
		c.stop(id)
	}
}

// leader waits until a running node leads and every running node knows it.
func (c *cluster) leader() uint64 {
	c.t.Helper()
	var leader uint64
	waitFor(c.t, "an agreed leader", func() bool {
		leader = 0
		for _, n := range c.nodes {
			s, err := n.Status()
			if err != nil || s.LeaderID == 0 || (leader != 0 && s.LeaderID != leader) {
				return false
			}
			leader = s.LeaderID
		}
		_, running := c.nodes[leader]
		return running
	})
	return leader
}

// follower is a running node other than leader.
func (c *cluster) follower(leader uint64) uint64 {
	for id := range c.nodes {
		if id != leader {
			return id
		}
	}
	c.t.Fatal("no follower running")
	return 0
}

// converged waits until every running node has applied the same index and
// their machines hold the same state, and returns that state.
func (c *cluster) converged() map[string]string {
	c.t.Helper()
	var state map[string]string
	waitFor(c.t, "replicas to converge", func() bool {
		var applied uint64
		state = nil
		for id, n := range c.nodes {
			s, err := n.Status()
			if err != nil || s.AppliedIndex != s.CommitIndex || (applied != 0 && s.AppliedIndex != applied) {
				return false
			}
			applied = s.AppliedIndex
			got := c.machines[id].State()
			if state != nil && fmt.Sprint(got) != fmt.Sprint(state) {
				return false
			}
			state = got
		}
		return true
	})
	return state
}
