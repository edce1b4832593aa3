package dengine

/*
#include <stdlib.h>
#include "callbacks.h"
#include "lasterror.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"runtime/debug"
	"unsafe"
)

// StateMachine is the application's replicated state, driven by dengine:
// every replica applies the same committed entries in the same order.
//
// Threads: Apply, Snapshot, Restore, Flush and Reset are called one at a
// time, from dengine's apply thread. Read (and LastApplied, Len) may be
// called from other threads at the same time as them: the machine must make
// that safe (a sync.RWMutex, or immutable snapshots of its state).
//
// An error from Apply, Snapshot, Restore, Flush or Reset stops the node (it
// stops rather than let replicas diverge) and is logged; return an
// application-level outcome in an entry's [Result] instead for anything
// every replica decides the same way (a malformed command, a failed check).
// An error wrapping a dengine sentinel ([ErrIO], [ErrCorruption], ...)
// reports that code, any other error [ErrStateMachine]. A panic in a method
// is recovered, logged with its stack, and treated as an error.
type StateMachine interface {
	// Apply applies entries, in index order with no gaps, all or nothing:
	// the effect of every entry, durable (once flushed) together with the
	// last entry's index as the machine's last applied index, or an error
	// and no effect. results[i] goes back to the proposer of entries[i],
	// and its Events to watchers; missing trailing results are Status 0
	// with no data and no events. After a crash a chunk may be delivered
	// again: skip entries at or below what was durably applied. No-op and
	// membership entries carry no command but advance the last applied
	// index. Entry data stays valid after Apply returns (it is a copy).
	Apply(entries []Entry) ([]Result, error)
	// Read answers query (bytes of the application's choosing) from the
	// applied state; dengine has already waited for the read's consistency.
	// Return ErrUnsupported if the machine serves no reads.
	Read(query []byte) ([]byte, error)
	// Snapshot writes the whole state, as of the last applied entry, as
	// files into the existing empty directory dir. Later applies must not
	// change those files. dengine checksums and ships them.
	Snapshot(dir string) error
	// Restore atomically replaces the whole state with the snapshot in dir
	// (written by Snapshot on some replica; its SHA-256 already verified).
	// Afterwards the last applied index is meta.LastIndex.
	Restore(dir string, meta SnapshotMeta) error
	// Flush makes everything applied so far durable. It is also called when
	// the node stops. Return nil at once if Apply is durable by itself.
	Flush() error
	// Reset clears everything back to empty (last applied index 0).
	Reset() error
}

// LastApplier is implemented by a machine that persists its last applied
// index atomically with its data. After a restart, dengine then replays only
// the entries after LastApplied. A machine without it restarts from empty:
// dengine resets it and replays every entry since the last snapshot.
// LastApplied may be called from any thread, concurrently with Apply.
type LastApplier interface {
	LastApplied() uint64
}

// Sizer is implemented by a machine that can count its entries (e.g. keys)
// for status reports. Len may be called from any thread.
type Sizer interface {
	Len() uint64
}

// EntryKind says what a log entry holds.
type EntryKind uint32

const (
	EntryNormal     EntryKind = C.DENGINE_ENTRY_NORMAL     // an application command
	EntryNoop       EntryKind = C.DENGINE_ENTRY_NOOP       // a new leader's entry; no data
	EntryMembership EntryKind = C.DENGINE_ENTRY_MEMBERSHIP // a membership change; engine data
)

// Entry is a committed log entry.
type Entry struct {
	Index uint64
	Term  uint64
	Kind  EntryKind
	Data  []byte // the proposed command for EntryNormal
}

// Result is the outcome of one entry: an application-defined status (0 or
// another value) and bytes, returned to the proposer, and the events the
// entry publishes.
type Result struct {
	Status int32
	Data   []byte
	// Events, set by Apply, go to the watchers of their topics (WatchTopic,
	// on any node) at the entry's revision, its index, in this order once
	// the chunk applied; they are not returned to the proposer (Propose's
	// Result has none). Events are part of the machine's deterministic
	// output: publish the same ones for the same entry on every replica,
	// and none for an entry skipped as re-delivered after a restart. A
	// Publication with an empty Topic fails the Apply (the node stops).
	Events []Publication
}

// Publication is an event a machine publishes: Data (any bytes, copied)
// for the watchers of Topic (non-empty bytes). Watchers receive it as an
// EventUser with Key = Topic and Value = Data.
type Publication struct {
	Topic []byte
	Data  []byte
}

// SnapshotMeta describes a snapshot handed to Restore.
type SnapshotMeta struct {
	LastIndex uint64 // the snapshot covers entries up to here
	LastTerm  uint64
	SHA256    [32]byte // already verified by dengine
}

// machine is what a C vtable's user handle refers to.
type machine struct {
	sm          StateMachine
	lastApplied LastApplier // nil: not implemented
	sizer       Sizer       // nil: not implemented
}

// bindMachine fills *out with a vtable calling sm, through a new handle the
// caller deletes once C can no longer call the machine.
func bindMachine(sm StateMachine, out *C.dengine_state_machine) cgo.Handle {
	m := &machine{sm: sm}
	m.lastApplied, _ = sm.(LastApplier)
	m.sizer, _ = sm.(Sizer)
	h := newHandle(m)
	C.godengine_fill_machine(out, C.uintptr_t(h), cBool(m.lastApplied != nil),
		cBool(m.sizer != nil))
	return h
}

func machineOf(h C.uintptr_t) *machine { return cgo.Handle(h).Value().(*machine) }

// fail logs why a machine method failed and returns its status code.
func (m *machine) fail(method string, err error) C.int {
	logError("state machine "+method+" failed", "err", err)
	return codeOf(err)
}

// recoverPanic turns a panic in a machine method into a logged failure.
func (m *machine) recoverPanic(method string, rc *C.int) {
	if p := recover(); p != nil {
		logError("state machine "+method+" panicked",
			"panic", p, "stack", string(debug.Stack()))
		*rc = C.DENGINE_ERR_STATE_MACHINE
	}
}

// copyEntries copies C entries (valid only during the callback) into one
// allocation; each Data is capped so appending to it cannot touch another.
func copyEntries(in []C.dengine_entry) []Entry {
	total := 0
	for i := range in {
		total += int(in[i].len)
	}
	buf := make([]byte, total)
	out := make([]Entry, len(in))
	off := 0
	for i := range in {
		e := &in[i]
		out[i] = Entry{Index: uint64(e.index), Term: uint64(e.term),
			Kind: EntryKind(e.kind)}
		if n := int(e.len); n > 0 {
			copy(buf[off:off+n], unsafe.Slice((*byte)(unsafe.Pointer(e.data)), n))
			out[i].Data = buf[off : off+n : off+n]
			off += n
		}
	}
	return out
}

//export goMachineApply
func goMachineApply(h C.uintptr_t, entries *C.dengine_entry, count C.size_t,
	results *C.dengine_results) (rc C.int) {
	m := machineOf(h)
	defer m.recoverPanic("Apply", &rc)
	in := copyEntries(unsafe.Slice(entries, int(count)))
	out, err := m.sm.Apply(in)
	if err != nil {
		return m.fail("Apply", err)
	}
	if len(out) > len(in) {
		return m.fail("Apply", fmt.Errorf("%d results for %d entries", len(out),
			len(in)))
	}
	for i, r := range out {
		if r.Status != 0 || len(r.Data) != 0 { // else the default result
			status := C.dengine_results_set(results, C.size_t(i), C.int32_t(r.Status),
				bytesPtr(r.Data), C.size_t(len(r.Data)))
			if status != C.DENGINE_OK {
				return status
			}
		}
		for _, p := range r.Events {
			if err := call("Apply", func(message **C.char) C.int {
				return C.godengine_events_publish(results, C.size_t(i), bytesPtr(p.Topic),
					C.size_t(len(p.Topic)), bytesPtr(p.Data), C.size_t(len(p.Data)), message)
			}); err != nil {
				return m.fail("Apply", err)
			}
		}
	}
	return C.DENGINE_OK
}

//export goMachineLastApplied
func goMachineLastApplied(h C.uintptr_t) C.uint64_t {
	return C.uint64_t(machineOf(h).lastApplied.LastApplied())
}

//export goMachineLen
func goMachineLen(h C.uintptr_t) C.uint64_t {
	return C.uint64_t(machineOf(h).sizer.Len())
}

//export goMachineRead
func goMachineRead(h C.uintptr_t, query *C.uint8_t, n C.size_t,
	out *C.dengine_read_result) (rc C.int) {
	m := machineOf(h)
	defer m.recoverPanic("Read", &rc)
	answer, err := m.sm.Read(C.GoBytes(unsafe.Pointer(query), C.int(n)))
	if err != nil {
		return codeOf(err) // the reader gets it; not a node failure
	}
	return C.dengine_read_result_set(out, bytesPtr(answer), C.size_t(len(answer)))
}

//export goMachineSnapshot
func goMachineSnapshot(h C.uintptr_t, dir *C.char) (rc C.int) {
	m := machineOf(h)
	defer m.recoverPanic("Snapshot", &rc)
	if err := m.sm.Snapshot(C.GoString(dir)); err != nil {
		return m.fail("Snapshot", err)
	}
	return C.DENGINE_OK
}

//export goMachineRestore
func goMachineRestore(h C.uintptr_t, dir *C.char,
	meta *C.dengine_snapshot_meta) (rc C.int) {
	m := machineOf(h)
	defer m.recoverPanic("Restore", &rc)
	gm := SnapshotMeta{LastIndex: uint64(meta.last_index),
		LastTerm: uint64(meta.last_term)}
	for i := range gm.SHA256 {
		gm.SHA256[i] = byte(meta.sha256[i])
	}
	if err := m.sm.Restore(C.GoString(dir), gm); err != nil {
		return m.fail("Restore", err)
	}
	return C.DENGINE_OK
}

//export goMachineFlush
func goMachineFlush(h C.uintptr_t) (rc C.int) {
	m := machineOf(h)
	defer m.recoverPanic("Flush", &rc)
	if err := m.sm.Flush(); err != nil {
		return m.fail("Flush", err)
	}
	return C.DENGINE_OK
}

//export goMachineReset
func goMachineReset(h C.uintptr_t) (rc C.int) {
	m := machineOf(h)
	defer m.recoverPanic("Reset", &rc)
	if err := m.sm.Reset(); err != nil {
		return m.fail("Reset", err)
	}
	return C.DENGINE_OK
}
