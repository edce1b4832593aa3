package dengine_test

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"sync"
	"testing"

	"dengine.dev/dengine"
)

// counter is a minimal in-memory machine, so the benchmark measures the
// binding and the engine rather than a machine's disk writes.
type counter struct {
	mu    sync.Mutex
	value uint64
}

func (c *counter) Apply(entries []dengine.Entry) ([]dengine.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	results := make([]dengine.Result, len(entries))
	for i, e := range entries {
		if e.Kind == dengine.EntryNormal {
			c.value++
			results[i].Data = binary.LittleEndian.AppendUint64(nil, c.value)
		}
	}
	return results, nil
}

func (c *counter) Read([]byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return binary.LittleEndian.AppendUint64(nil, c.value), nil
}

func (c *counter) Snapshot(string) error                      { return nil }
func (c *counter) Restore(string, dengine.SnapshotMeta) error { return nil }
func (c *counter) Flush() error                               { return nil }
func (c *counter) Reset() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.value = 0
	return nil
}

// BenchmarkPropose measures proposals through the binding to a Go machine
// on a one-node and a three-node cluster, one at a time and many at once
// (GOMAXPROCS x 16 goroutines).
func BenchmarkPropose(b *testing.B) {
	dengine.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(func() { dengine.SetLogger(nil) })
	for _, size := range []int{1, 3} {
		c := newCluster(b, size, func(cfg *dengine.Config) { cfg.StateMachine = &counter{} })
		leader := c.nodes[c.leader()]
		command := make([]byte, 256)
		name := map[int]string{1: "1-node", 3: "3-nodes"}[size]
		b.Run(name+"/sequential", func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				if _, err := leader.Propose(ctx, command); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := leader.Propose(ctx, command); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRead measures reads through the binding into a Go machine's Read
// at eventual consistency (no Raft round: the binding's and the engine's
// own cost) and at linearizable consistency.
func BenchmarkRead(b *testing.B) {
	dengine.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(func() { dengine.SetLogger(nil) })
	c := newCluster(b, 1, func(cfg *dengine.Config) { cfg.StateMachine = &counter{} })
	leader := c.nodes[c.leader()]
	for _, consistency := range []dengine.Consistency{dengine.ReadEventual, dengine.ReadLinearizable} {
		name := map[dengine.Consistency]string{dengine.ReadEventual: "eventual",
			dengine.ReadLinearizable: "linearizable"}[consistency]
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				if _, err := leader.Read(ctx, nil, consistency); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
