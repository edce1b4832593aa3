package dengine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dengine.dev/dengine"
)

// writeConfig writes a TOML file (docs/operations.md) into dir.
func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "node.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startFails starts a node from cfg, which must be refused as an invalid
// argument whose message holds want.
func startFails(t *testing.T, cfg dengine.Config, want string) {
	t.Helper()
	n, err := dengine.StartNode(cfg)
	if err == nil {
		n.Close()
		t.Fatalf("started; want an error with %q", want)
	}
	if !errors.Is(err, dengine.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v; want an invalid argument with %q", err, want)
	}
}

func TestConfigFileStartsANode(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(`
[node]
id = 4
data_dir = %q
peer_address = "127.0.0.1:0"

[cluster]
initial_voters = [4]

[storage]
kv_backend = "file"
snapshots_kept = 3

[raft]
tick_ms = 20
election_ticks = 10

[log]
level = "debug"
`, filepath.Join(dir, "data")))
	n, err := dengine.StartNode(dengine.Config{File: path})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.ID() != 4 {
		t.Fatalf("ID() is %d, want the file's 4", n.ID())
	}
	ctx := ctxFor(t)
	if err := n.Put(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, err := n.Get(ctx, []byte("k"), dengine.ReadLinearizable); err != nil || string(v) != "v" {
		t.Fatalf("get: %q, %v", v, err)
	}
}

func TestConfigFieldsOverrideTheFile(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(
		"[node]\nid = 1\ndata_dir = %q\n[cluster]\ninitial_voters = [1]\n", filepath.Join(dir, "one")))
	// The field's id is not the file's only voter: the rule across the two
	// names it.
	startFails(t, dengine.Config{File: path, NodeID: 2}, "initial_voters: must contain this node (id 2)")

	other := filepath.Join(dir, "two")
	n, err := dengine.StartNode(dengine.Config{File: path, DataDir: other, Timing: &dengine.Timing{HeartbeatTicks: 3}})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("the field's data dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "one")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file's data dir was used: %v", err)
	}
}

func TestConfigEnvPrefixAppliesVariablesOverTheFile(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, fmt.Sprintf(
		"[node]\nid = 1\ndata_dir = %q\n[cluster]\ninitial_voters = [1]\n", filepath.Join(dir, "data")))
	t.Setenv("GODENGINE_TEST_NODE_ID", "7")
	startFails(t, dengine.Config{File: path, EnvPrefix: "GODENGINE_TEST_"}, "must contain this node (id 7)")
	t.Setenv("GODENGINE_TEST_NODE_IDD", "8")
	startFails(t, dengine.Config{File: path, EnvPrefix: "GODENGINE_TEST_"},
		`environment variable GODENGINE_TEST_NODE_IDD: unknown variable; did you mean "GODENGINE_TEST_NODE_ID"?`)
}

func TestConfigFileErrorsNameThePlaceAndTheKey(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "[node]\nid = 1\ndata_dri = \"x\"\n")
	startFails(t, dengine.Config{File: path}, path+`:3:1: node.data_dri: unknown key; did you mean "data_dir"?`)
	path = writeConfig(t, dir, "[raft]\ntick_ms = \"fast\"\n")
	startFails(t, dengine.Config{File: path, NodeID: 1, DataDir: dir},
		path+":2:11: raft.tick_ms: expected an integer, got a string")

	_, err := dengine.StartNode(dengine.Config{File: filepath.Join(dir, "missing.toml")})
	if !errors.Is(err, dengine.ErrIO) || !strings.Contains(err.Error(), "No such file") {
		t.Fatalf("a missing file: %v", err)
	}
	if n := dengine.LiveHandles(); n != 0 {
		t.Fatalf("%d handles left after refused starts", n)
	}
}

func TestConfigFieldsNameTheirOption(t *testing.T) {
	startFails(t, dengine.Config{NodeID: 1, DataDir: t.TempDir(), PeerAddress: "nowhere"}, "peer_address: bad address")
	// The old name still sets it.
	startFails(t, dengine.Config{NodeID: 1, DataDir: t.TempDir(), ListenAddress: "nowhere"}, "peer_address: bad address")
	startFails(t, dengine.Config{NodeID: 1, DataDir: t.TempDir(), SnapshotsKept: 1001}, "snapshots_kept: must be between 1 and 1000")
	startFails(t, dengine.Config{NodeID: 1, DataDir: t.TempDir(), Timing: &dengine.Timing{ElectionTicks: 2}},
		"election_ticks: must be between 3 and 10000, got 2")
	startFails(t, dengine.Config{NodeID: 1, DataDir: t.TempDir(), WatchHistoryBytes: 1},
		"watch_history_bytes: must be between 4096 and 1099511627776, got 1")
	startFails(t, dengine.Config{NodeID: 1, DataDir: t.TempDir(), WatchHistoryEvents: 100_000_001},
		"watch_history_events: must be between 1 and 100000000, got 100000001")
}

func TestConfigWatchHistory(t *testing.T) {
	// The smallest values the C rules allow start a node.
	dir := t.TempDir()
	n, err := dengine.StartNode(dengine.Config{NodeID: 1, DataDir: filepath.Join(dir, "fields"), InitialVoters: []uint64{1},
		WatchHistoryEvents: 1, WatchHistoryBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()

	// The TOML keys are read by dengine_config_load_toml, sizes included.
	path := writeConfig(t, dir, fmt.Sprintf(
		"[node]\nid = 1\ndata_dir = %q\n[cluster]\ninitial_voters = [1]\n"+
			"[storage]\nwatch_history_events = 10\nwatch_history_bytes = \"1MiB\"\n", filepath.Join(dir, "file")))
	n, err = dengine.StartNode(dengine.Config{File: path})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()

	path = writeConfig(t, dir, "[storage]\nwatch_history_events = 0\n")
	startFails(t, dengine.Config{File: path, NodeID: 1, DataDir: dir},
		path+":2:24: storage.watch_history_events: must be between 1 and 100000000, got 0")
	path = writeConfig(t, dir, "[storage]\nwatch_history_bytes = \"1KiB\"\n")
	startFails(t, dengine.Config{File: path, NodeID: 1, DataDir: dir}, "storage.watch_history_bytes: must be between 4096")
}
