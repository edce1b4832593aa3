package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// logCacheEntries is the in-memory cache of recent log entries in front of
// BoltDB, the size Consul and Nomad use: replication reads fresh entries
// from it instead of from the database.
const logCacheEntries = 512

type node struct {
	id        int
	raft      *raft.Raft
	fsm       *mapFSM
	transport *raft.NetworkTransport
	store     *raftboltdb.BoltStore
}

// cluster is three nodes in this process, each with its own BoltDB file
// (fsync on every commit), snapshot directory and TCP transport on a free
// loopback port; they talk to each other only over those sockets.
type cluster struct {
	nodes  []*node
	leader atomic.Pointer[node]
}

func startCluster(dir string, size int, logOutput io.Writer) (*cluster, error) {
	c := &cluster{}
	var servers []raft.Server
	for i := 1; i <= size; i++ {
		transport, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, logOutput)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("node %d: transport: %w", i, err)
		}
		c.nodes = append(c.nodes, &node{id: i, transport: transport})
		servers = append(servers, raft.Server{
			ID:      raft.ServerID(strconv.Itoa(i)),
			Address: transport.LocalAddr(),
		})
	}
	for _, n := range c.nodes {
		if err := n.start(dir, raft.Configuration{Servers: servers}, logOutput); err != nil {
			c.stop()
			return nil, fmt.Errorf("node %d: %w", n.id, err)
		}
	}
	return c, nil
}

func (n *node) start(dir string, voters raft.Configuration, logOutput io.Writer) error {
	home := filepath.Join(dir, "node"+strconv.Itoa(n.id))
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(strconv.Itoa(n.id))
	conf.Logger = hclog.New(&hclog.LoggerOptions{
		Name:   "raft-" + strconv.Itoa(n.id),
		Level:  hclog.Warn,
		Output: logOutput,
	})
	store, err := raftboltdb.NewBoltStore(filepath.Join(home, "raft.db"))
	if err != nil {
		return fmt.Errorf("bolt store: %w", err)
	}
	n.store = store
	logs, err := raft.NewLogCache(logCacheEntries, store)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStore(home, 2, logOutput)
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	if err := raft.BootstrapCluster(conf, logs, store, snaps, n.transport, voters); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	n.fsm = newMapFSM()
	n.raft, err = raft.NewRaft(conf, n.fsm, logs, store, snaps, n.transport)
	return err
}

// waitLeader waits for a leader whose own no-op entry is applied, so that
// it accepts and applies writes at once.
func (c *cluster) waitLeader(timeout time.Duration) (*node, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n := c.findLeader(); n != nil {
			if n.raft.Barrier(time.Until(deadline)).Error() == nil {
				return n, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("no leader within %s", timeout)
}

// findLeader looks for the node that is leader now, and remembers it.
func (c *cluster) findLeader() *node {
	for _, n := range c.nodes {
		if n.raft.State() == raft.Leader {
			c.leader.Store(n)
			return n
		}
	}
	return nil
}

// current is the leader last found; after an error a client looks again.
func (c *cluster) current() *node { return c.leader.Load() }

func (c *cluster) stop() {
	for _, n := range c.nodes {
		if n.raft != nil {
			n.raft.Shutdown().Error()
		}
		if n.transport != nil {
			n.transport.Close()
		}
		if n.store != nil {
			n.store.Close()
		}
	}
}
