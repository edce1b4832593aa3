// Command hraft-bench starts a 3-node hashicorp/raft cluster in this
// process (BoltDB log and stable store with fsync, TCP transport on
// loopback) and loads its leader the way dengine-bench loads dengine: a
// number of clients, each with one request outstanding. A write is
// raft.Apply of a put to a map state machine, waited on; a linearizable
// read is VerifyLeader on the leader (a heartbeat round with a quorum,
// shared by concurrent callers) followed by a read of the leader's map.
// Prints a JSON array, one result per workload.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"dengine.dev/bench/compare/closedloop"
)

func main() {
	dir := flag.String("dir", "", "data directory (required; must be empty)")
	workloads := flag.String("workloads", "write:1,write:100,read:100", "name:clients,... (write or read)")
	duration := flag.Duration("duration", 10*time.Second, "time per workload")
	keySize := flag.Int("key-size", 8, "bytes per key")
	valueSize := flag.Int("value-size", 256, "bytes per value")
	keys := flag.Int("keys", 10000, "distinct keys")
	timeout := flag.Duration("timeout", 10*time.Second, "time limit of one Apply")
	leaderTimeout := flag.Duration("leader-timeout", 30*time.Second, "time to wait for a leader")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "hraft-bench: -dir is required")
		os.Exit(2)
	}

	plan, err := closedloop.ParseWorkloads(*workloads)
	var kv *closedloop.KeyValues
	if err == nil {
		kv, err = closedloop.NewKeyValues(*keySize, *valueSize, *keys)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hraft-bench:", err)
		os.Exit(2)
	}
	if err := run(*dir, plan, kv, *duration, *timeout, *leaderTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "hraft-bench:", err)
		os.Exit(3)
	}
}

func run(dir string, plan []closedloop.Workload, kv *closedloop.KeyValues,
	duration, timeout, leaderTimeout time.Duration) error {
	c, err := startCluster(dir, 3, os.Stderr)
	if err != nil {
		return err
	}
	defer c.stop()
	leader, err := c.waitLeader(leaderTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "hraft-bench: node %d leads\n", leader.id)

	put := func(key string, value []byte) error {
		applied := c.current().raft.Apply(encodePut(key, value), timeout)
		if err := applied.Error(); err != nil {
			c.findLeader()
			return err
		}
		if err, failed := applied.Response().(error); failed {
			return err
		}
		return nil
	}
	get := func(key string) error {
		n := c.current()
		if err := n.raft.VerifyLeader().Error(); err != nil {
			c.findLeader()
			return err
		}
		if _, ok := n.fsm.get(key); !ok {
			return errors.New("key not found: " + key)
		}
		return nil
	}

	var results []closedloop.Result
	for _, w := range plan {
		if w.Name == "read-linearizable" {
			err := closedloop.Preload(kv, func(_, key int, value []byte) error {
				return put(kv.Key(key), value)
			})
			if err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "hraft-bench: %s, %d client(s), %s\n", w.Name, w.Clients, duration)
		r := closedloop.Run(w.Clients, duration, func(_ int, rng *rand.Rand) error {
			if w.Name == "write" {
				return put(kv.RandomKey(rng), kv.RandomValue(rng))
			}
			return get(kv.RandomKey(rng))
		})
		r.Describe("hashicorp/raft", w.Name, kv)
		results = append(results, r)
	}
	return closedloop.Print(results)
}
