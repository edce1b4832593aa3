package dengine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"dengine.dev/dengine"
	"dengine.dev/dengine/internal/testmachine"
)

// Writers keep proposing through a leader failover; every write that was
// acknowledged must be in the state of every replica afterwards.
func TestLeaderFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	const writers, writesEach = 4, 40
	c := newCluster(t, 3, nil)
	ctx := ctxFor(t)
	c.leader()
	nodes := []*dengine.Node{c.nodes[1], c.nodes[2], c.nodes[3]} // fixed for the writers

	var mu sync.Mutex
	acked := map[string]bool{}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	// write retries key on whichever node it believes leads until a write is
	// acknowledged. A retry after an unknown outcome rewrites the same value.
	write := func(key string) error {
		target := 0
		for ctx.Err() == nil {
			attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := nodes[target].Propose(attempt, testmachine.Set(key, "x"))
			cancel()
			if err == nil {
				mu.Lock()
				acked[key] = true
				mu.Unlock()
				return nil
			}
			var notLeader *dengine.NotLeaderError
			if errors.As(err, &notLeader) && notLeader.LeaderID != 0 {
				target = int(notLeader.LeaderID) - 1
			} else {
				target = (target + 1) % len(nodes)
				time.Sleep(10 * time.Millisecond) // back off while there is no leader
			}
		}
		return ctx.Err()
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < writesEach; i++ {
				if err := write(fmt.Sprintf("w%d-%d", w, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}

	waitFor(t, "writes before the failover", func() bool { return ackedCount() >= writers*writesEach/4 })
	old := c.leader()
	c.stop(old)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	check := func(state map[string]string, where string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for key := range acked {
			if state[key] != "x" {
				t.Fatalf("%s: acknowledged write %s is lost", where, key)
			}
		}
	}
	if len(acked) != writers*writesEach {
		t.Fatalf("%d writes acknowledged, want %d", len(acked), writers*writesEach)
	}
	check(c.converged(), "the surviving replicas")
	answer, err := c.nodes[c.leader()].Read(ctx, nil, dengine.ReadLinearizable)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]string
	if err := json.Unmarshal(answer, &state); err != nil {
		t.Fatal(err)
	}
	check(state, "a linearizable read on the new leader")

	// The old leader comes back and catches up.
	c.start(old, nil)
	check(c.converged(), "all replicas after the old leader's restart")
}
