// Package testmachine is a small durable Go state machine for the
// binding's tests: string keys to values, saved together with the last
// applied index in one file that is replaced atomically after every chunk.
//
// A command is "key=value" (set key; the result is the previous value,
// status 1 for a malformed command). A query is a key (the answer is its
// value; ErrNotFound when absent) or empty (the whole state, as JSON, for
// comparing replicas).
package testmachine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"dengine.dev/dengine"
)

const stateFile = "state.json"

type state struct {
	LastApplied uint64            `json:"last_applied"`
	Data        map[string]string `json:"data"`
}

// Machine implements dengine.StateMachine and dengine.LastApplier.
type Machine struct {
	dir string
	mu  sync.RWMutex // Read runs beside Apply: guards st
	st  state
	// Restores counts snapshots installed; Applied counts normal entries
	// applied (not skipped as re-delivered).
	Restores atomic.Int64
	Applied  atomic.Int64
}

// Open opens the machine stored in dir (created if needed).
func Open(dir string) (*Machine, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	st, err := load(dir)
	if err != nil {
		return nil, err
	}
	return &Machine{dir: dir, st: st}, nil
}

// Set is the command setting key to value.
func Set(key, value string) []byte { return []byte(key + "=" + value) }

func (m *Machine) Apply(entries []dengine.Entry) ([]dengine.Result, error) {
	next := state{LastApplied: m.st.LastApplied, Data: make(map[string]string, len(m.st.Data))}
	for k, v := range m.st.Data {
		next.Data[k] = v
	}
	results := make([]dengine.Result, len(entries))
	for i, e := range entries {
		if e.Index <= m.st.LastApplied {
			continue // re-delivered after a crash
		}
		next.LastApplied = e.Index
		if e.Kind != dengine.EntryNormal {
			continue
		}
		key, value, ok := bytes.Cut(e.Data, []byte("="))
		if !ok || len(key) == 0 {
			results[i] = dengine.Result{Status: 1}
			continue
		}
		results[i] = dengine.Result{Data: []byte(next.Data[string(key)])}
		next.Data[string(key)] = string(value)
		m.Applied.Add(1)
	}
	if err := save(m.dir, next); err != nil {
		return nil, err
	}
	m.publish(next)
	return results, nil
}

func (m *Machine) publish(st state) {
	m.mu.Lock()
	m.st = st
	m.mu.Unlock()
}

func (m *Machine) Read(query []byte) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(query) == 0 {
		return json.Marshal(m.st.Data) // keys sorted: equal states, equal bytes
	}
	v, ok := m.st.Data[string(query)]
	if !ok {
		return nil, dengine.ErrNotFound
	}
	return []byte(v), nil
}

func (m *Machine) LastApplied() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.st.LastApplied
}

// Len is the number of keys.
func (m *Machine) Len() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return uint64(len(m.st.Data))
}

// State is a copy of the keys and values.
func (m *Machine) State() map[string]string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]string, len(m.st.Data))
	for k, v := range m.st.Data {
		out[k] = v
	}
	return out
}

func (m *Machine) Snapshot(dir string) error { return save(dir, m.st) }

func (m *Machine) Restore(dir string, meta dengine.SnapshotMeta) error {
	st, err := load(dir)
	if err != nil {
		return err
	}
	if st.LastApplied != meta.LastIndex {
		return fmt.Errorf("snapshot holds index %d, meta says %d: %w", st.LastApplied,
			meta.LastIndex, dengine.ErrCorruption)
	}
	if err := save(m.dir, st); err != nil {
		return err
	}
	m.publish(st)
	m.Restores.Add(1)
	return nil
}

// Flush has nothing to do: every chunk is durable when Apply returns.
func (m *Machine) Flush() error { return nil }

func (m *Machine) Reset() error {
	empty := state{Data: map[string]string{}}
	if err := save(m.dir, empty); err != nil {
		return err
	}
	m.publish(empty)
	return nil
}

// save replaces dir/state.json: a temporary file, fsync, rename, fsync of
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
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, stateFile)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// load reads dir/state.json; no file is the empty state.
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
