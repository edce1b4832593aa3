package dengine

/*
#include <stdlib.h>
#include "callbacks.h"
#include "lasterror.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Node is one member of a Raft cluster running in this process. Its
// methods are safe for concurrent use. Close it when done: a Node holds C
// resources and threads that the garbage collector does not release.
type Node struct {
	id uint64
	// mu is held shared around every C call on node and exclusively by
	// Close, which frees node: no call uses it after it is freed.
	mu      sync.RWMutex
	node    *C.dengine_node // nil once closed
	machine cgo.Handle      // the application machine's; 0 for the built-in
	self    cgo.Handle      // this node, for leader-change callbacks
	leaders leaderEvents
	watches sync.WaitGroup // the running Watchers: Close waits for them
}

// StartNode opens cfg.DataDir (recovering after a crash), starts the state
// machine, listens for peers and joins the cluster.
func StartNode(cfg Config) (*Node, error) {
	n := &Node{id: cfg.NodeID}
	var vtable *C.dengine_state_machine
	if cfg.StateMachine != nil {
		// In C memory: the vtable's user field holds a handle, not a pointer.
		vtable = (*C.dengine_state_machine)(C.calloc(1, C.sizeof_dengine_state_machine))
		defer C.free(unsafe.Pointer(vtable))
		n.machine = bindMachine(cfg.StateMachine, vtable)
	}
	cc, err := newCConfig(&cfg, vtable)
	if err != nil {
		n.release()
		return nil, err
	}
	defer cc.free()
	n.id = uint64(C.dengine_config_node_id(cc.c)) // NodeID, or Config.File's
	var node *C.dengine_node
	if err := call("StartNode", func(m **C.char) C.int { return C.godengine_node_start(cc.c, &node, m) }); err != nil {
		n.release()
		return nil, err
	}
	n.node = node
	n.self = newHandle(n)
	n.leaders.start()
	if err := call("StartNode", func(m **C.char) C.int {
		return C.godengine_set_leader_callback(node, C.uintptr_t(n.self), m)
	}); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// ID is the node's id.
func (n *Node) ID() uint64 { return n.id }

// enter pins the C node for one call; leave releases it.
func (n *Node) enter(op string) (*C.dengine_node, error) {
	n.mu.RLock()
	if n.node == nil {
		n.mu.RUnlock()
		return nil, &Error{Code: CodeShuttingDown, Op: op, Message: "the node is closed"}
	}
	return n.node, nil
}

func (n *Node) leave() { n.mu.RUnlock() }

// Stop stops serving (pending requests end with ErrShuttingDown), makes
// everything durable and stops the state machine. It is idempotent and
// returns the first error met, e.g. the one that stopped the node. Status
// still works afterwards; Close releases the node.
func (n *Node) Stop() error {
	p, err := n.enter("Stop")
	if err != nil {
		return err
	}
	defer n.leave()
	return call("Stop", func(m **C.char) C.int { return C.godengine_node_stop(p, m) })
}

// Close stops the node if needed, releases it and returns Stop's error.
// After Close no machine method or leader-change function is called again,
// and every Watcher of the node has ended (ErrShuttingDown) with its
// channel closed. Closing a closed node does nothing. Close must not be
// called from a leader-change function.
func (n *Node) Close() error {
	stopErr := n.Stop() // ends every watch
	n.mu.Lock()
	if n.node == nil {
		n.mu.Unlock()
		return nil
	}
	C.dengine_node_close(n.node)
	n.node = nil
	n.mu.Unlock()
	n.watches.Wait()
	n.leaders.stop()
	n.release()
	return stopErr
}

// release deletes the handles C held.
func (n *Node) release() {
	if n.self != 0 {
		deleteHandle(n.self)
		n.self = 0
	}
	if n.machine != 0 {
		deleteHandle(n.machine)
		n.machine = 0
	}
}

// Role is a node's Raft role.
type Role int

const (
	RoleFollower     Role = C.DENGINE_ROLE_FOLLOWER
	RolePreCandidate Role = C.DENGINE_ROLE_PRE_CANDIDATE
	RoleCandidate    Role = C.DENGINE_ROLE_CANDIDATE
	RoleLeader       Role = C.DENGINE_ROLE_LEADER
)

func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RolePreCandidate:
		return "pre-candidate"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return "unknown"
}

// Member is a member of the cluster.
type Member struct {
	ID      uint64
	Voter   bool   // false: a learner
	Address string // "host:port"; "" when unknown
}

// Status is a consistent picture of a node.
type Status struct {
	ID            uint64
	Role          Role
	Term          uint64
	LeaderID      uint64 // 0: none known
	LeaderAddress string
	CommitIndex   uint64
	AppliedIndex  uint64
	LastLogIndex  uint64
	SnapshotIndex uint64
	// Fatal is the error that stopped the node from serving (e.g. a failed
	// apply), or nil.
	Fatal   error
	Members []Member // voters, then learners
}

// Status reports the node's role, leader, indexes and members.
func (n *Node) Status() (Status, error) {
	p, err := n.enter("Status")
	if err != nil {
		return Status{}, err
	}
	defer n.leave()
	var s C.dengine_status
	if err := call("Status", func(m **C.char) C.int { return C.godengine_node_status(p, &s, m) }); err != nil {
		return Status{}, err
	}
	defer C.dengine_status_free(&s)
	return statusOf(&s), nil
}

// ReloadTLS rotates certificates: it reads the node's TLS files again (the
// same paths: replace the files first) and uses them for every connection
// opened from now on; open ones keep theirs. A bad file changes nothing
// (ErrInvalidArgument, naming it); ErrUnsupported without TLS.
func (n *Node) ReloadTLS() error {
	p, err := n.enter("ReloadTLS")
	if err != nil {
		return err
	}
	defer n.leave()
	return call("ReloadTLS", func(m **C.char) C.int { return C.godengine_node_reload_tls(p, m) })
}

// statusOf copies a C status (the caller frees it).
func statusOf(s *C.dengine_status) Status {
	out := Status{
		ID:            uint64(s.id),
		Role:          Role(s.role),
		Term:          uint64(s.term),
		LeaderID:      uint64(s.leader_id),
		LeaderAddress: C.GoString(&s.leader_address[0]),
		CommitIndex:   uint64(s.commit_index),
		AppliedIndex:  uint64(s.applied_index),
		LastLogIndex:  uint64(s.last_log_index),
		SnapshotIndex: uint64(s.snapshot_index),
		Fatal:         newError("node", s.fatal_status, "the node stopped serving"),
	}
	for _, m := range unsafe.Slice(s.members, int(s.member_count)) {
		out.Members = append(out.Members, Member{ID: uint64(m.id), Voter: m.voter != 0,
			Address: C.GoString(&m.address[0])})
	}
	return out
}

// LeaderChange is a new leader (0: none known) or term.
type LeaderChange struct {
	LeaderID uint64
	Term     uint64
}

// OnLeaderChange calls fn with every later change of the leader or the
// term, in order, on a goroutine of the node's (fn may block and may call
// the node, except Close). nil stops the calls.
func (n *Node) OnLeaderChange(fn func(LeaderChange)) { n.leaders.set(fn) }

//export goLeaderChanged
func goLeaderChanged(h C.uintptr_t, leaderID, term C.uint64_t) {
	n := cgo.Handle(h).Value().(*Node)
	n.leaders.push(LeaderChange{LeaderID: uint64(leaderID), Term: uint64(term)})
}

// leaderEvents hands leader changes from dengine's loop thread, which must
// not block, to a goroutine that calls the application's function.
type leaderEvents struct {
	mu      sync.Mutex
	fn      func(LeaderChange)
	pending []LeaderChange
	wake    chan struct{} // capacity 1: "pending may be non-empty"
	quit    chan struct{}
	done    chan struct{}
}

func (q *leaderEvents) start() {
	q.wake = make(chan struct{}, 1)
	q.quit = make(chan struct{})
	q.done = make(chan struct{})
	go q.run()
}

func (q *leaderEvents) set(fn func(LeaderChange)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.fn = fn
}

func (q *leaderEvents) push(change LeaderChange) {
	q.mu.Lock()
	if q.fn == nil {
		q.mu.Unlock()
		return
	}
	q.pending = append(q.pending, change)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *leaderEvents) run() {
	defer close(q.done)
	for {
		select {
		case <-q.wake:
		case <-q.quit:
			return
		}
		for {
			q.mu.Lock()
			if len(q.pending) == 0 {
				q.mu.Unlock()
				break
			}
			change, fn := q.pending[0], q.fn
			q.pending = q.pending[1:]
			q.mu.Unlock()
			if fn != nil {
				fn(change)
			}
		}
	}
}

// stop ends the goroutine once no more changes can arrive.
func (q *leaderEvents) stop() {
	close(q.quit)
	<-q.done
}
