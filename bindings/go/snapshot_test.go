package dengine_test

import (
	"errors"
	"fmt"
	"testing"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/testmachine"
)

// Snapshots only on demand, so the test decides when the log is compacted.
func onDemandSnapshots(cfg *dengine.Config) {
	cfg.Snapshots = &dengine.SnapshotPolicy{}
}

func TestLateNodesCatchUpFromASnapshot(t *testing.T) {
	c := newCluster(t, 3, onDemandSnapshots)
	ctx := ctxFor(t)
	leader := c.leader()
	propose := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if _, err := c.nodes[leader].Propose(ctx, testmachine.Set(fmt.Sprintf("k%d", i), fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	propose(1, 30)
	index, err := c.nodes[leader].Snapshot(ctx)
	if err != nil || index < 30 {
		t.Fatalf("snapshot: index %d, %v", index, err)
	}

	// A learner added after the log was compacted gets the snapshot, then
	// the entries after it, and can be promoted once caught up.
	c.start(4, nil)
	if err := c.nodes[leader].AddLearner(ctx, 4, c.addrs[4]); err != nil {
		t.Fatal(err)
	}
	propose(31, 40)
	c.converged()
	if c.machines[4].Restores.Load() != 1 {
		t.Fatalf("the learner installed %d snapshots, want 1", c.machines[4].Restores.Load())
	}
	waitFor(t, "the learner's promotion", func() bool {
		err := c.nodes[leader].Promote(ctx, 4)
		if err != nil && !errors.Is(err, dengine.ErrBusy) {
			t.Fatal(err)
		}
		return err == nil
	})
	s, err := c.nodes[4].Status()
	if err != nil || len(s.Members) != 4 {
		t.Fatalf("status of the promoted node: %+v, %v", s, err)
	}
	for _, m := range s.Members {
		if !m.Voter {
			t.Fatalf("member %d is still a learner", m.ID)
		}
	}

	// A follower that was down while the log was compacted past its last
	// entry restarts from its own state, then installs the snapshot.
	down := uint64(1)
	if down == leader {
		down = 2
	}
	c.stop(down)
	propose(41, 60)
	if _, err := c.nodes[leader].Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	c.start(down, nil)
	state := c.converged()
	if c.machines[down].Restores.Load() != 1 {
		t.Fatalf("the restarted node installed %d snapshots, want 1", c.machines[down].Restores.Load())
	}
	if len(state) != 60 || state["k60"] != "60" {
		t.Fatalf("state after catch-up has %d keys", len(state))
	}
}
