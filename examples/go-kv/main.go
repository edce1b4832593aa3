// go-kv runs a 3-node dengine cluster inside one process, with a key-value
// state machine written in Go (machine.go): it proposes writes to the
// leader, reads on a follower, takes a snapshot, moves leadership and
// writes again through the new leader.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"dengine.dev/dengine"
)

func main() {
	port := flag.Int("port", 17201, "peer ports: port, port+1 and port+2 on 127.0.0.1")
	dir := flag.String("dir", "", "data directory (default: a temporary one, removed at exit)")
	flag.Parse()
	// dengine's own log lines go to log/slog; show warnings and errors only.
	dengine.SetLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "go-kv-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	if err := run(*dir, *port); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	addrs := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		addrs[id] = fmt.Sprintf("127.0.0.1:%d", port+int(id)-1)
	}
	nodes := map[uint64]*dengine.Node{}
	defer func() {
		for _, n := range nodes {
			n.Close() // stops the node; then the machine is no longer used
		}
	}()
	for id := uint64(1); id <= 3; id++ {
		machine, err := openMachine(filepath.Join(dir, fmt.Sprintf("machine%d", id)))
		if err != nil {
			return err
		}
		peers := map[uint64]string{}
		for peer, addr := range addrs {
			if peer != id {
				peers[peer] = addr
			}
		}
		n, err := dengine.StartNode(dengine.Config{
			NodeID:        id,
			DataDir:       filepath.Join(dir, fmt.Sprintf("node%d", id)),
			ListenAddress: addrs[id],
			Peers:         peers,
			InitialVoters: []uint64{1, 2, 3}, // used only while the data dir is empty
			StateMachine:  machine,
		})
		if err != nil {
			return fmt.Errorf("start node %d: %w", id, err)
		}
		nodes[id] = n
	}

	leader, err := waitForLeader(ctx, nodes[1])
	if err != nil {
		return err
	}
	fmt.Printf("node %d leads\n", leader)

	for i := 0; i < 100; i++ {
		if _, err := propose(ctx, nodes[leader], command{Op: "put", Key: fmt.Sprintf("key-%02d", i),
			Value: fmt.Sprint(i * i)}); err != nil {
			return err
		}
	}
	res, err := propose(ctx, nodes[leader], command{Op: "put", Key: "key-42", Value: "forty-two"})
	if err != nil {
		return err
	}
	fmt.Printf("put 101 keys; key-42 was %q\n", res.Data)

	follower := leader%3 + 1
	// A follower refuses writes and names the leader.
	_, err = propose(ctx, nodes[follower], command{Op: "put", Key: "x", Value: "y"})
	var notLeader *dengine.NotLeaderError
	if !errors.As(err, &notLeader) {
		return fmt.Errorf("a follower accepted a write: %v", err)
	}
	fmt.Printf("node %d refused a write: the leader is node %d at %s\n", follower,
		notLeader.LeaderID, notLeader.LeaderAddress)
	// Any node serves linearizable reads: it confirms with the leader.
	value, err := nodes[follower].Read(ctx, []byte("key-42"), dengine.ReadLinearizable)
	if err != nil {
		return err
	}
	fmt.Printf("node %d reads key-42 = %q\n", follower, value)

	index, err := nodes[leader].Snapshot(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("snapshot at index %d\n", index)

	if err := nodes[leader].TransferLeadership(ctx, follower); err != nil {
		return err
	}
	fmt.Printf("leadership moved to node %d\n", follower)
	if _, err := propose(ctx, nodes[follower], command{Op: "delete", Key: "key-42"}); err != nil {
		return err
	}
	if _, err := nodes[leader].Read(ctx, []byte("key-42"), dengine.ReadLinearizable); !errors.Is(err, dengine.ErrNotFound) {
		return fmt.Errorf("key-42 survived its delete: %v", err)
	}
	fmt.Printf("node %d deleted key-42; node %d no longer finds it\n", follower, leader)

	for id := uint64(1); id <= 3; id++ {
		s, err := nodes[id].Status()
		if err != nil {
			return err
		}
		fmt.Printf("node %d: %s, term %d, applied %d, %d members\n", id, s.Role, s.Term,
			s.AppliedIndex, len(s.Members))
	}
	for id, n := range nodes {
		if err := n.Close(); err != nil {
			return fmt.Errorf("close node %d: %w", id, err)
		}
		delete(nodes, id)
	}
	fmt.Println("ok")
	return nil
}

func propose(ctx context.Context, n *dengine.Node, c command) (dengine.Result, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return dengine.Result{}, err
	}
	res, err := n.Propose(ctx, data)
	if err == nil && res.Status != statusOK {
		err = fmt.Errorf("%s %s: the machine refused it (status %d)", c.Op, c.Key, res.Status)
	}
	return res, err
}

// waitForLeader polls n until it knows a leader.
func waitForLeader(ctx context.Context, n *dengine.Node) (uint64, error) {
	for {
		s, err := n.Status()
		if err != nil {
			return 0, err
		}
		if s.LeaderID != 0 {
			return s.LeaderID, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no leader elected: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
