// Command etcd-bench loads a running etcd cluster the way dengine-bench
// --mode standalone loads dengined: every client its own connection to the
// leader, one request outstanding at a time; writes are Puts, reads are
// Gets at etcd's default, linearizable, consistency (a ReadIndex round on
// the leader). Prints a JSON array, one result per workload.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"dengine.dev/bench/compare/closedloop"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "client URLs or host:port, comma-separated")
	workloads := flag.String("workloads", "write:1,write:100,read:100", "name:clients,... (write or read)")
	duration := flag.Duration("duration", 10*time.Second, "time per workload")
	keySize := flag.Int("key-size", 8, "bytes per key")
	valueSize := flag.Int("value-size", 256, "bytes per value")
	keys := flag.Int("keys", 10000, "distinct keys")
	timeout := flag.Duration("timeout", 10*time.Second, "time limit of one request")
	flag.Parse()

	plan, err := closedloop.ParseWorkloads(*workloads)
	var kv *closedloop.KeyValues
	if err == nil {
		kv, err = closedloop.NewKeyValues(*keySize, *valueSize, *keys)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-bench:", err)
		os.Exit(2)
	}
	if err := run(strings.Split(*endpoints, ","), plan, kv, *duration, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "etcd-bench:", err)
		os.Exit(3)
	}
}

func run(endpoints []string, plan []closedloop.Workload, kv *closedloop.KeyValues,
	duration, timeout time.Duration) error {
	leader, err := findLeader(endpoints)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "etcd-bench: leader serves clients at", leader)

	var results []closedloop.Result
	for _, w := range plan {
		clients, err := connect(leader, max(w.Clients, 32))
		if err != nil {
			return err
		}
		put := func(c int, key string, value []byte) error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_, err := clients[c].Put(ctx, key, string(value))
			return err
		}
		if w.Name == "read-linearizable" {
			err = closedloop.Preload(kv, func(c, key int, value []byte) error {
				return put(c, kv.Key(key), value)
			})
			if err != nil {
				closeAll(clients)
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "etcd-bench: %s, %d client(s), %s\n", w.Name, w.Clients, duration)
		r := closedloop.Run(w.Clients, duration, func(c int, rng *rand.Rand) error {
			if w.Name == "write" {
				return put(c, kv.RandomKey(rng), kv.RandomValue(rng))
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_, err := clients[c].Get(ctx, kv.RandomKey(rng))
			return err
		})
		closeAll(clients)
		r.Describe("etcd", w.Name, kv)
		results = append(results, r)
	}
	return closedloop.Print(results)
}

// findLeader asks every endpoint for its status and returns the one whose
// member is the leader, so that no request pays a follower's forwarding
// (dengine-bench also sends everything to the leader).
func findLeader(endpoints []string) (string, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return "", fmt.Errorf("connecting to %v: %w", endpoints, err)
	}
	defer cli.Close()
	var errs []error
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		status, err := cli.Status(ctx, ep)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("status of %s: %w", ep, err))
			continue
		}
		if status.Leader != 0 && status.Leader == status.Header.MemberId {
			return ep, nil
		}
	}
	return "", fmt.Errorf("no endpoint of %v is the leader: %w", endpoints, errors.Join(errs...))
}

// connect opens n clients to the endpoint, each with its own connection,
// and makes one request on each so that no measured request pays for it.
func connect(endpoint string, n int) ([]*clientv3.Client, error) {
	clients := make([]*clientv3.Client, 0, n)
	for range n {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = cli.Get(ctx, "etcd-bench")
			cancel()
			if err != nil {
				cli.Close()
			}
		}
		if err != nil {
			closeAll(clients)
			return nil, fmt.Errorf("connecting to %s: %w", endpoint, err)
		}
		clients = append(clients, cli)
	}
	return clients, nil
}

func closeAll(clients []*clientv3.Client) {
	for _, cli := range clients {
		cli.Close()
	}
}
