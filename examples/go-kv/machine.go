package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"dengine.dev/dengine"
)

// command is what a client proposes: put or delete one key.
type command struct {
	Op    string `json:"op"` // "put" or "delete"
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Result statuses the proposer sees (Result.Data is the previous value).
const (
	statusOK         = 0
	statusBadCommand = 1 // every replica refuses it alike; the node keeps going
)

// state is the whole machine: its data and the last entry applied to it,
// always saved together.
type state struct {
	LastApplied uint64            `json:"last_applied"`
	Data        map[string]string `json:"data"`
}

const stateFile = "kv.json"

// kvMachine is a replicated key-value map. Its state lives in memory and in
// dir/kv.json, rewritten atomically after every chunk of entries, so a
// chunk is durable when Apply returns.
type kvMachine struct {
	dir string
	mu  sync.RWMutex // Read runs concurrently with Apply
	st  state
}

func openMachine(dir string) (*kvMachine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st, err := load(dir)
	if err != nil {
		return nil, err
	}
	return &kvMachine{dir: dir, st: st}, nil
}

// Apply runs on dengine's apply thread; only it changes m.st, so it reads
// m.st without the lock and publishes the new state under it.
func (m *kvMachine) Apply(entries []dengine.Entry) ([]dengine.Result, error) {
	next := state{LastApplied: m.st.LastApplied, Data: maps.Clone(m.st.Data)}
	results := make([]dengine.Result, len(entries))
	for i, e := range entries {
		if e.Index <= next.LastApplied {
			continue // delivered again after a crash: already applied
		}
		next.LastApplied = e.Index
		if e.Kind != dengine.EntryNormal {
			continue // a leader's no-op or a membership change
		}
		var c command
		if err := json.Unmarshal(e.Data, &c); err != nil || c.Key == "" {
			results[i].Status = statusBadCommand
			continue
		}
		results[i].Data = []byte(next.Data[c.Key])
		switch c.Op {
		case "put":
			next.Data[c.Key] = c.Value
		case "delete":
			delete(next.Data, c.Key)
		default:
			results[i] = dengine.Result{Status: statusBadCommand}
		}
	}
	// All or nothing: the chunk's effects and its last index in one write.
	if err := save(m.dir, next); err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.st = next
	m.mu.Unlock()
	return results, nil
}

// Read answers a query (a key) with its value.
func (m *kvMachine) Read(query []byte) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.st.Data[string(query)]
	if !ok {
		return nil, dengine.ErrNotFound
	}
	return []byte(v), nil
}

// LastApplied lets dengine replay only newer entries after a restart.
func (m *kvMachine) LastApplied() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.st.LastApplied
}

func (m *kvMachine) Len() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return uint64(len(m.st.Data))
}

// Snapshot writes a copy of the state: later applies do not touch it.
func (m *kvMachine) Snapshot(dir string) error { return save(dir, m.st) }

func (m *kvMachine) Restore(dir string, meta dengine.SnapshotMeta) error {
	st, err := load(dir)
	if err != nil {
		return err
	}
	if st.LastApplied != meta.LastIndex {
		return fmt.Errorf("snapshot at %d labelled %d: %w", st.LastApplied, meta.LastIndex,
			dengine.ErrCorruption)
	}
	if err := save(m.dir, st); err != nil {
		return err
	}
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
	return nil
}

// Flush has nothing to do: Apply made each chunk durable.
func (m *kvMachine) Flush() error { return nil }

func (m *kvMachine) Reset() error {
	empty := state{Data: map[string]string{}}
	if err := save(m.dir, empty); err != nil {
		return err
	}
	m.mu.Lock()
	m.st = empty
	m.mu.Unlock()
	return nil
}

// save replaces dir/kv.json: write a temporary file, fsync, rename, fsync
// the directory. A crash leaves the old file or the new one.
func save(dir string, st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, stateFile+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, stateFile))
	}
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// load reads dir/kv.json; no file is the empty state.
func load(dir string) (state, error) {
	st := state{Data: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %v: %w", stateFile, err, dengine.ErrCorruption)
	}
	if st.Data == nil {
		st.Data = map[string]string{}
	}
	return st, nil
}
