package dengine

/*
#include <stdlib.h>
#include "lasterror.h"
*/
import "C"

import (
	"cmp"
	"maps"
	"slices"
	"time"
	"unsafe"
)

// LogBackend selects the store of the Raft log and hard state (TOML
// storage.log_backend).
type LogBackend int

const (
	LogWAL     LogBackend = C.DENGINE_STORAGE_WAL     // the segmented WAL (default)
	LogRocksDB LogBackend = C.DENGINE_STORAGE_ROCKSDB // log and hard state in RocksDB
)

// Storage is the old name of LogBackend.
//
// Deprecated: use LogBackend.
type Storage = LogBackend

const (
	// Deprecated: use LogWAL.
	StorageWAL = LogWAL
	// Deprecated: use LogRocksDB.
	StorageRocksDB = LogRocksDB
)

// KVBackend selects the built-in KV machine's storage.
type KVBackend int

const (
	KVRocksDB KVBackend = C.DENGINE_KV_ROCKSDB // the default
	KVFile    KVBackend = C.DENGINE_KV_FILE    // a chunk log plus a compacted image
)

// Consistency is a read's consistency level.
type Consistency int

const (
	ReadDefault      Consistency = C.DENGINE_READ_DEFAULT      // the node's default
	ReadLinearizable Consistency = C.DENGINE_READ_LINEARIZABLE // ReadIndex: a quorum round
	ReadLease        Consistency = C.DENGINE_READ_LEASE        // the leader's lease
	ReadEventual     Consistency = C.DENGINE_READ_EVENTUAL     // local; may be stale
)

// Timing sets the Raft clock (TOML raft.tick_ms, raft.election_ticks,
// raft.heartbeat_ticks): one tick every Tick, an election after
// ElectionTicks to twice that without a leader, a heartbeat every
// HeartbeatTicks. A zero field leaves that setting as it is (the default,
// or File's).
type Timing struct {
	Tick           time.Duration
	ElectionTicks  uint32
	HeartbeatTicks uint32
}

// SnapshotPolicy takes a snapshot after Entries entries or Bytes entry bytes
// since the last one (TOML storage.snapshot_entries, storage.snapshot_bytes;
// 0 disables that threshold; both 0: only on demand). Both are set.
type SnapshotPolicy struct {
	Entries uint64
	Bytes   uint64
}

// Config configures a node. Each field is named as its option is in the TOML
// file of docs/operations.md and in Python (PeerAddress: node.peer_address,
// peer_address). File, if set, is read first, then the fields: a zero field
// leaves the option as File (or dengine's default) has it, any other value
// overrides it. NodeID and DataDir are required, here or in File.
type Config struct {
	// File is a TOML file (the dengined file of docs/operations.md) read by
	// dengine_config_load_toml; "": none. Its [log] level is left alone (see
	// SetLogger).
	File string
	// EnvPrefix, with File, also applies the environment variables named
	// <EnvPrefix><SECTION>_<KEY> over the file ("DENGINE_":
	// DENGINE_RAFT_TICK_MS); "": none.
	EnvPrefix string
	NodeID    uint64
	ClusterID uint64 // nodes of different clusters refuse each other; 0: 1
	DataDir   string // the log, snapshots and the built-in machine
	// PeerAddress is "host:port" for peers; "": 127.0.0.1 on a free port.
	PeerAddress string
	// Deprecated: use PeerAddress. Used only when PeerAddress is "".
	ListenAddress string
	// Peers are the other nodes' addresses by id: every voter of a new
	// cluster; at least the leader's for a node that joins one. Added to
	// File's peers (the same id: replaced).
	Peers map[uint64]string
	// InitialVoters are the voters of a brand-new cluster, this node
	// included; used only when DataDir is empty. Leave nil on a node that
	// will join with AddLearner.
	InitialVoters []uint64
	// ClientAddress, if set, serves dengine clients (see OpenClient) on
	// "host:port"; PeerClientAddresses names the other nodes' ones, for
	// redirects.
	ClientAddress       string
	PeerClientAddresses map[uint64]string
	LogBackend          LogBackend
	// Deprecated: use LogBackend. Used only when LogBackend is LogWAL.
	Storage Storage
	// StateMachine is the application's machine; nil: the built-in KV
	// machine (KVBackend). It is used only between StartNode and Close.
	StateMachine StateMachine
	KVBackend    KVBackend
	Timing       *Timing         // nil: the defaults (or File's)
	Snapshots    *SnapshotPolicy // nil: every 10,000 entries or 64 MiB (or File's)
	// SnapshotsKept is how many snapshots stay on disk; 0: the default (2).
	SnapshotsKept uint32
	DefaultRead   Consistency // ReadDefault: linearizable
	// MaxEntryBytes bounds a proposal's size; 0: the default (16 MiB).
	MaxEntryBytes uint64
	// WatchHistoryEvents and WatchHistoryBytes bound the recent events kept
	// in memory for watches that start at a past revision: how many
	// (1 to 100,000,000) and how many bytes of them (4 KiB to 1 TiB);
	// 0: the default (100,000 events, 64 MiB) or File's.
	WatchHistoryEvents uint64
	WatchHistoryBytes  uint64
	// TLS for peers and clients (docs/operations.md, "TLS"): this node's
	// certificate (with the URI SAN dengine:node:<id>) and key, and the CA
	// the others' certificates must chain to; all three or none.
	// TLSMinVersion: "1.3" ("": the default) or "1.2".
	// TLSRequireClientCert makes clients present a certificate; then only
	// TLSAdminIdentities (certificate common names) may run admin calls.
	// See also Node.ReloadTLS.
	TLSCertFile          string
	TLSKeyFile           string
	TLSCAFile            string
	TLSMinVersion        string
	TLSRequireClientCert bool
	TLSAdminIdentities   []string
}

// cConfig is a C config built from a Config; free it with free.
type cConfig struct{ c *C.dengine_config }

func (cc cConfig) free() { C.dengine_config_free(cc.c) }

// newCConfig copies cfg into a new C config: File first, then every field
// that is not zero, each through its dengine_config_* setter; machine (may
// be NULL) is set as the application machine. Errors name the option (and,
// for File, the place and the key) dengine refused.
func newCConfig(cfg *Config, machine *C.dengine_state_machine) (cConfig, error) {
	var cc cConfig
	if err := call("StartNode", func(m **C.char) C.int { return C.godengine_config_new(&cc.c, m) }); err != nil {
		return cc, err
	}
	// A step is one setter's call, as call runs it.
	type step = func(m **C.char) C.int
	withString := func(s string, f func(cs *C.char, m **C.char) C.int) step {
		return func(m **C.char) C.int {
			cs := C.CString(s)
			defer C.free(unsafe.Pointer(cs))
			return f(cs, m)
		}
	}
	var steps []step
	if cfg.File != "" {
		steps = append(steps, withString(cfg.File, func(path *C.char, m **C.char) C.int {
			if cfg.EnvPrefix == "" {
				return C.godengine_config_load_toml(cc.c, path, nil, m)
			}
			return withString(cfg.EnvPrefix, func(prefix *C.char, m **C.char) C.int {
				return C.godengine_config_load_toml(cc.c, path, prefix, m)
			})(m)
		}))
	}
	if cfg.NodeID != 0 {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_node_id(cc.c, C.uint64_t(cfg.NodeID), m)
		})
	}
	if cfg.DataDir != "" {
		steps = append(steps, withString(cfg.DataDir, func(s *C.char, m **C.char) C.int {
			return C.godengine_config_set_data_dir(cc.c, s, m)
		}))
	}
	if backend := cmp.Or(cfg.LogBackend, cfg.Storage); backend != LogWAL {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_log_backend(cc.c, C.int(backend), m)
		})
	}
	if cfg.KVBackend != KVRocksDB {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_kv_backend(cc.c, C.int(cfg.KVBackend), m)
		})
	}
	if cfg.ClusterID != 0 {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_cluster_id(cc.c, C.uint64_t(cfg.ClusterID), m)
		})
	}
	if address := cmp.Or(cfg.PeerAddress, cfg.ListenAddress); address != "" {
		steps = append(steps, withString(address, func(s *C.char, m **C.char) C.int {
			return C.godengine_config_set_peer_address(cc.c, s, m)
		}))
	}
	for _, id := range sortedIDs(cfg.Peers) {
		steps = append(steps, withString(cfg.Peers[id], func(s *C.char, m **C.char) C.int {
			return C.godengine_config_add_peer(cc.c, C.uint64_t(id), s, m)
		}))
	}
	if len(cfg.InitialVoters) > 0 {
		steps = append(steps, func(m **C.char) C.int {
			ids := make([]C.uint64_t, len(cfg.InitialVoters))
			for i, id := range cfg.InitialVoters {
				ids[i] = C.uint64_t(id)
			}
			return C.godengine_config_set_initial_voters(cc.c, &ids[0], C.size_t(len(ids)), m)
		})
	}
	if cfg.ClientAddress != "" {
		steps = append(steps, withString(cfg.ClientAddress, func(s *C.char, m **C.char) C.int {
			return C.godengine_config_set_client_address(cc.c, s, m)
		}))
	}
	for _, id := range sortedIDs(cfg.PeerClientAddresses) {
		steps = append(steps, withString(cfg.PeerClientAddresses[id], func(s *C.char, m **C.char) C.int {
			return C.godengine_config_add_peer_client_address(cc.c, C.uint64_t(id), s, m)
		}))
	}
	if t := cfg.Timing; t != nil {
		if t.Tick != 0 {
			steps = append(steps, func(m **C.char) C.int {
				return C.godengine_config_set_tick_ms(cc.c, C.uint32_t(t.Tick/time.Millisecond), m)
			})
		}
		if t.ElectionTicks != 0 {
			steps = append(steps, func(m **C.char) C.int {
				return C.godengine_config_set_election_ticks(cc.c, C.uint32_t(t.ElectionTicks), m)
			})
		}
		if t.HeartbeatTicks != 0 {
			steps = append(steps, func(m **C.char) C.int {
				return C.godengine_config_set_heartbeat_ticks(cc.c, C.uint32_t(t.HeartbeatTicks), m)
			})
		}
	}
	if p := cfg.Snapshots; p != nil {
		steps = append(steps,
			func(m **C.char) C.int {
				return C.godengine_config_set_snapshot_entries(cc.c, C.uint64_t(p.Entries), m)
			},
			func(m **C.char) C.int {
				return C.godengine_config_set_snapshot_bytes(cc.c, C.uint64_t(p.Bytes), m)
			})
	}
	if cfg.SnapshotsKept != 0 {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_snapshots_kept(cc.c, C.uint32_t(cfg.SnapshotsKept), m)
		})
	}
	if cfg.DefaultRead != ReadDefault {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_default_read(cc.c, C.int(cfg.DefaultRead), m)
		})
	}
	if cfg.MaxEntryBytes != 0 {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_max_entry_bytes(cc.c, C.uint64_t(cfg.MaxEntryBytes), m)
		})
	}
	if cfg.WatchHistoryEvents != 0 {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_watch_history_events(cc.c, C.uint64_t(cfg.WatchHistoryEvents), m)
		})
	}
	if cfg.WatchHistoryBytes != 0 {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_watch_history_bytes(cc.c, C.uint64_t(cfg.WatchHistoryBytes), m)
		})
	}
	tlsFiles := []struct {
		path string
		set  func(s *C.char, m **C.char) C.int
	}{
		{cfg.TLSCertFile, func(s *C.char, m **C.char) C.int { return C.godengine_config_set_tls_cert_file(cc.c, s, m) }},
		{cfg.TLSKeyFile, func(s *C.char, m **C.char) C.int { return C.godengine_config_set_tls_key_file(cc.c, s, m) }},
		{cfg.TLSCAFile, func(s *C.char, m **C.char) C.int { return C.godengine_config_set_tls_ca_file(cc.c, s, m) }},
		{cfg.TLSMinVersion, func(s *C.char, m **C.char) C.int { return C.godengine_config_set_tls_min_version(cc.c, s, m) }},
	}
	for _, f := range tlsFiles {
		if f.path != "" {
			steps = append(steps, withString(f.path, f.set))
		}
	}
	if cfg.TLSRequireClientCert {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_tls_require_client_cert(cc.c, 1, m)
		})
	}
	for _, identity := range cfg.TLSAdminIdentities {
		steps = append(steps, withString(identity, func(s *C.char, m **C.char) C.int {
			return C.godengine_config_add_tls_admin_identity(cc.c, s, m)
		}))
	}
	if machine != nil {
		steps = append(steps, func(m **C.char) C.int {
			return C.godengine_config_set_state_machine(cc.c, machine, m)
		})
	}
	for _, step := range steps {
		if err := call("StartNode", step); err != nil {
			cc.free()
			return cConfig{}, err
		}
	}
	return cc, nil
}

// sortedIDs gives a map's ids in order, so configs are built the same way
// every time.
func sortedIDs(m map[uint64]string) []uint64 { return slices.Sorted(maps.Keys(m)) }
