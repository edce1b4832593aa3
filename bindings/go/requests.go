package dengine

/*
#include <stdlib.h>
#include "callbacks.h"
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"unsafe"
)

// reply is a Go copy of a dengine_reply.
type reply struct {
	status        C.int
	result        int32
	data          []byte
	index         uint64
	leaderID      uint64
	leaderAddress string
	message       string
}

func replyOf(status C.int, r *C.dengine_reply) reply {
	out := reply{status: status}
	if r == nil {
		return out
	}
	out.result = int32(r.result)
	if r.len > 0 {
		out.data = C.GoBytes(unsafe.Pointer(r.data), C.int(r.len))
	}
	out.index = uint64(r.index)
	out.leaderID = uint64(r.leader_id)
	if r.leader_address != nil {
		out.leaderAddress = C.GoString(r.leader_address)
	}
	if r.message != nil {
		out.message = C.GoString(r.message)
	}
	return out
}

// err is the reply's error: a *NotLeaderError with the leader's hint, an
// *Error, or nil.
func (r *reply) err(op string) error {
	if r.status == C.DENGINE_OK {
		return nil
	}
	e := &Error{Code: Code(r.status), Op: op, Message: r.message}
	if r.status == C.DENGINE_ERR_NOT_LEADER {
		return &NotLeaderError{LeaderID: r.leaderID, LeaderAddress: r.leaderAddress, Err: e}
	}
	return e
}

// goRequestDone completes an async request, exactly once per request: from
// one of dengine's threads, or from the starting call when dengine refused
// the request at once. The reply is valid only during the call.
//
//export goRequestDone
func goRequestDone(h C.uintptr_t, status C.int, r *C.dengine_reply) {
	handle := cgo.Handle(h)
	done := handle.Value().(chan reply)
	deleteHandle(handle)
	done <- replyOf(status, r) // buffered: never blocks dengine's thread
}

// statusReply is a Go copy of what dengine_client_status_async's done gets.
type statusReply struct {
	status  C.int
	view    Status // when status is DENGINE_OK
	message string // when it is not
}

// goStatusDone completes a client's async Status exactly once, as
// goRequestDone completes a request. view and message are valid only during
// the call.
//
//export goStatusDone
func goStatusDone(h C.uintptr_t, status C.int, view *C.dengine_status, message *C.char) {
	handle := cgo.Handle(h)
	done := handle.Value().(chan statusReply)
	deleteHandle(handle)
	r := statusReply{status: status}
	if view != nil {
		r.view = statusOf(view)
	}
	if message != nil {
		r.message = C.GoString(message)
	}
	done <- r // buffered: never blocks the client's call thread
}

// await waits for an async call's completion on done, or for ctx to end:
// then it returns ctx.Err(), unless the completion came at the same time.
func await[T any](ctx context.Context, done <-chan T) (T, error) {
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		select {
		case r := <-done: // finished at the same time: report the outcome
			return r, nil
		default:
			var zero T
			return zero, ctx.Err()
		}
	}
}

// request starts an async C call through start, passing ctx's deadline and
// a handle for its completion, and waits for the reply or for ctx to end.
// Every request completes through goRequestDone, one dengine refuses at
// once included, so its error comes from the reply. An abandoned request
// still completes inside dengine (which deletes its handle): at its
// deadline at the latest, or when the node stops.
func (n *Node) request(ctx context.Context, op string,
	start func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t)) (reply, error) {
	timeout, err := timeoutOf(ctx)
	if err != nil {
		return reply{}, err
	}
	node, err := n.enter(op)
	if err != nil {
		return reply{}, err
	}
	done := make(chan reply, 1)
	start(node, timeout, C.uintptr_t(newHandle(done)))
	n.leave()
	r, err := await(ctx, done)
	if err != nil {
		return reply{}, err
	}
	return r, r.err(op)
}

// propose proposes command, as Propose and (with kv: the bytes are a KV
// command, which dengine keeps from an application machine) the KV writes do.
func (n *Node) propose(ctx context.Context, op string, command []byte, kv bool) (reply, error) {
	return n.request(ctx, op, func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t) {
		C.godengine_propose(node, bytesPtr(command), C.size_t(len(command)), cBool(kv), timeout, h)
	})
}

// read reads query, as Read and (with kv) the KV reads do.
func (n *Node) read(ctx context.Context, op string, query []byte, c Consistency, kv bool) (reply, error) {
	return n.request(ctx, op, func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t) {
		C.godengine_read(node, bytesPtr(query), C.size_t(len(query)), cBool(kv), C.int(c), timeout, h)
	})
}

// Propose replicates command to the cluster and waits until it is applied,
// returning the machine's result for it. Only the leader accepts proposals:
// elsewhere the error is a *NotLeaderError naming the leader. If ctx ends
// first the error is ctx.Err() (or an ErrTimeout matching
// context.DeadlineExceeded) and the command may still be applied.
func (n *Node) Propose(ctx context.Context, command []byte) (Result, error) {
	r, err := n.propose(ctx, "Propose", command, false)
	if err != nil {
		return Result{}, err
	}
	return Result{Status: r.result, Data: r.data}, nil
}

// Read answers query through the machine's Read at consistency c. Any node
// serves reads: a follower confirms linearizable ones with the leader.
func (n *Node) Read(ctx context.Context, query []byte, c Consistency) ([]byte, error) {
	r, err := n.read(ctx, "Read", query, c, false)
	if err != nil {
		return nil, err
	}
	return r.data, nil
}

// AddLearner adds node id, reachable at address ("host:port"), as a learner:
// it receives the log (or a snapshot) but does not vote. On the leader;
// returns once the change is committed.
func (n *Node) AddLearner(ctx context.Context, id uint64, address string) error {
	_, err := n.request(ctx, "AddLearner", func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t) {
		a := C.CString(address)
		defer C.free(unsafe.Pointer(a))
		C.godengine_add_learner(node, C.uint64_t(id), a, timeout, h)
	})
	return err
}

// Promote makes learner id a voter once it has caught up (ErrBusy until
// then). On the leader.
func (n *Node) Promote(ctx context.Context, id uint64) error {
	_, err := n.request(ctx, "Promote", func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t) {
		C.godengine_promote(node, C.uint64_t(id), timeout, h)
	})
	return err
}

// Remove removes member id; removing the leader makes it step down. On the
// leader.
func (n *Node) Remove(ctx context.Context, id uint64) error {
	_, err := n.request(ctx, "Remove", func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t) {
		C.godengine_remove(node, C.uint64_t(id), timeout, h)
	})
	return err
}

// TransferLeadership hands leadership to voter to (0: the most caught-up
// one) and returns once it leads. On the leader.
func (n *Node) TransferLeadership(ctx context.Context, to uint64) error {
	_, err := n.request(ctx, "TransferLeadership", func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t) {
		C.godengine_transfer_leadership(node, C.uint64_t(to), timeout, h)
	})
	return err
}

// Snapshot takes a snapshot now, compacts the log before it and returns its
// last included index.
func (n *Node) Snapshot(ctx context.Context) (uint64, error) {
	r, err := n.request(ctx, "Snapshot", func(node *C.dengine_node, timeout C.uint32_t, h C.uintptr_t) {
		C.godengine_snapshot(node, timeout, h)
	})
	return r.index, err
}
