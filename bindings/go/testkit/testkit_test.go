package testkit_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/testmachine"
	"dengine.dev/dengine/testkit"
)

func builder(open func(dir string) (dengine.StateMachine, error)) testkit.Builder {
	return testkit.Builder{
		Open:       open,
		Command:    func(n uint64) []byte { return testmachine.Set(fmt.Sprintf("key%d", n), fmt.Sprint(n)) },
		StateQuery: []byte{}, // the empty query answers with the whole state
	}
}

func openMachine(dir string) (dengine.StateMachine, error) { return testmachine.Open(dir) }

func TestAGoMachinePassesTheConformanceSuite(t *testing.T) {
	testkit.RunConformance(t, builder(openMachine))
}

func TestStatesCanBeComparedBySnapshotFiles(t *testing.T) {
	b := builder(openMachine)
	b.StateQuery = nil
	// The suite's default commands (the 8 bytes of n) are malformed for the
	// machine, which only records their index: its snapshot file still
	// tells the states apart.
	b.Command = nil
	testkit.RunConformance(t, b)
}

// forgetful counts the entries it applies under key "count" and never
// skips one: after a crash it applies a re-delivered chunk again, which the
// suite must catch.
type forgetful struct{ *testmachine.Machine }

func (f forgetful) Apply(entries []dengine.Entry) ([]dengine.Result, error) {
	count, _ := strconv.Atoi(f.State()["count"])
	counted := make([]dengine.Entry, len(entries))
	for i, e := range entries {
		count++
		// Renumbered past what the machine holds, so it skips nothing.
		counted[i] = dengine.Entry{Index: f.LastApplied() + uint64(i) + 1, Term: e.Term,
			Kind: e.Kind, Data: testmachine.Set("count", strconv.Itoa(count))}
	}
	return f.Machine.Apply(counted)
}

func TestTheSuiteCatchesADoubleApply(t *testing.T) {
	report, err := testkit.Conformance(builder(func(dir string) (dengine.StateMachine, error) {
		m, err := testmachine.Open(dir)
		return forgetful{m}, err
	}), t.TempDir())
	if !errors.Is(err, dengine.ErrStateMachine) || !strings.Contains(report, "FAIL redelivery_after_crash") {
		t.Fatalf("a machine that applies re-delivered entries again passed:\n%s\n%v", report, err)
	}
}

func TestABadBuilderIsRefused(t *testing.T) {
	b := builder(openMachine)
	if _, err := testkit.Conformance(b, "/nonexistent/dir"); !errors.Is(err, dengine.ErrInvalidArgument) {
		t.Fatalf("a missing directory: %v", err)
	}
	failing := builder(func(string) (dengine.StateMachine, error) { return nil, dengine.ErrIO })
	report, err := testkit.Conformance(failing, t.TempDir())
	if err == nil || !strings.Contains(report, "FAIL lifecycle") {
		t.Fatalf("a builder that cannot open passed:\n%s\n%v", report, err)
	}
}
