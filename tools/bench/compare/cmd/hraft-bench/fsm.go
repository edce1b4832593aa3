package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// A command is a put: one byte of key length, the key, then the value.
func encodePut(key string, value []byte) []byte {
	cmd := make([]byte, 0, 1+len(key)+len(value))
	cmd = append(cmd, byte(len(key)))
	cmd = append(cmd, key...)
	return append(cmd, value...)
}

// mapFSM is the state machine: a map from key to value. Apply runs on the
// node's FSM goroutine; get may run on any goroutine.
type mapFSM struct {
	mu   sync.RWMutex
	data map[string][]byte
}

func newMapFSM() *mapFSM { return &mapFSM{data: make(map[string][]byte)} }

func (f *mapFSM) Apply(entry *raft.Log) any {
	cmd := entry.Data
	if len(cmd) == 0 || len(cmd) < 1+int(cmd[0]) {
		return fmt.Errorf("malformed command of %d bytes at index %d", len(cmd), entry.Index)
	}
	n := 1 + int(cmd[0])
	key, value := string(cmd[1:n]), append([]byte(nil), cmd[n:]...)
	f.mu.Lock()
	f.data[key] = value
	f.mu.Unlock()
	return nil
}

func (f *mapFSM) get(key string) ([]byte, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	value, ok := f.data[key]
	return value, ok
}

// Snapshot copies the map; the copy is written out later, off the FSM
// goroutine, by Persist.
func (f *mapFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	copied := make(map[string][]byte, len(f.data))
	for k, v := range f.data {
		copied[k] = v
	}
	return mapSnapshot(copied), nil
}

// Restore replaces the map by a snapshot: records of key length, value
// length (uvarints), key, value.
func (f *mapFSM) Restore(in io.ReadCloser) error {
	defer in.Close()
	r := bufio.NewReader(in)
	data := make(map[string][]byte)
	for {
		keyLen, err := binary.ReadUvarint(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		valueLen, err := binary.ReadUvarint(r)
		if err != nil {
			return err
		}
		record := make([]byte, keyLen+valueLen)
		if _, err := io.ReadFull(r, record); err != nil {
			return err
		}
		data[string(record[:keyLen])] = record[keyLen:]
	}
	f.mu.Lock()
	f.data = data
	f.mu.Unlock()
	return nil
}

type mapSnapshot map[string][]byte

func (s mapSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	var lengths [2 * binary.MaxVarintLen64]byte
	for k, v := range s {
		n := binary.PutUvarint(lengths[:], uint64(len(k)))
		n += binary.PutUvarint(lengths[n:], uint64(len(v)))
		w.Write(lengths[:n])
		w.WriteString(k)
		w.Write(v)
	}
	if err := w.Flush(); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s mapSnapshot) Release() {}
