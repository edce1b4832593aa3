// Package testkit runs dengine's state machine conformance suite against a
// Go state machine: lifecycle; apply in order with one result per entry;
// idempotent re-delivery of a chunk after a crash; snapshot, reset and
// restore; durability after a clean stop and after a crash; reset.
//
// The suite calls the machine's methods the way a node does, on one
// goroutine (so it does not exercise Read running concurrently with Apply:
// test that with the race detector and your own goroutines). Its cases are
// described in docs/state-machine-guide.md ("Testing with the conformance
// suite").
package testkit

import (
	"strings"
	"testing"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/suite"
)

// Builder opens the machines the suite tests.
type Builder struct {
	// Open opens (or reopens, recovering what is there) the machine stored
	// in the existing directory dir. Required.
	Open func(dir string) (dengine.StateMachine, error)
	// Close releases a machine made by Open. The suite calls Flush first for
	// a clean shutdown and skips it to simulate a crash, so Close must make
	// nothing durable that Apply and Flush did not. nil: nothing to release.
	Close func(dengine.StateMachine)
	// Command makes the suite's n-th command (n >= 1); applying commands
	// 1..k and 1..k' (k != k') must leave different states. nil: the 8
	// bytes of n, little-endian.
	Command func(n uint64) []byte
	// StateQuery is a query whose Read answer captures the whole state
	// (equal answers: equal states). nil: states are compared by the files
	// Snapshot writes, which must then be byte-identical for equal states.
	StateQuery []byte
}

func (b Builder) internal() suite.Builder {
	return suite.Builder{
		Open: func(dir string) (any, error) {
			m, err := b.Open(dir)
			if err != nil {
				return nil, err
			}
			return m, nil
		},
		Close: func(m any) {
			if b.Close != nil {
				b.Close(m.(dengine.StateMachine))
			}
		},
		Command:    b.Command,
		StateQuery: b.StateQuery,
	}
}

// Conformance runs the suite, each case in a fresh subdirectory of dir
// (which must exist), and returns its report, one line per case ("ok
// <case>" or "FAIL <case>: <why>"). The error matches
// dengine.ErrStateMachine when a case fails and dengine.ErrInvalidArgument
// for a bad builder or directory.
func Conformance(b Builder, dir string) (report string, err error) {
	return suite.Run(b.internal(), dir, false)
}

// Performance measures apply throughput: 100 entries, then 1,000, in chunks
// of 10, each chunk followed by Flush, in fresh machines under dir. It fails
// when 100 entries take 1 s or more, or 1,000 take more than 30 times as
// long as 100. Timing depends on the computer: use it as a benchmark, not
// as a test.
func Performance(b Builder, dir string) (report string, err error) {
	return suite.Run(b.internal(), dir, true)
}

// RunConformance runs the suite in a temporary directory and fails t with
// every failing case.
func RunConformance(t testing.TB, b Builder) {
	t.Helper()
	report, err := Conformance(b, t.TempDir())
	for _, line := range strings.Split(strings.TrimSpace(report), "\n") {
		if strings.HasPrefix(line, "FAIL") {
			t.Error(line)
		} else if line != "" {
			t.Log(line)
		}
	}
	if err != nil && !t.Failed() {
		t.Error(err)
	}
}
