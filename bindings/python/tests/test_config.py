"""A node's configuration: keyword options checked by the library's setters,
and the dengined TOML file read by the library's loader, keywords over it,
every error naming the option (and, for a file, the place and the key)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import dengine


def test_configuration_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(dengine.InvalidArgumentError, match='did you mean "data_dir"'):
        dengine.Node(id=1, data_dri=tmp_path)
    with pytest.raises(dengine.InvalidArgumentError, match="data_dir: missing"):
        dengine.Node(id=1)
    with pytest.raises(dengine.InvalidArgumentError, match="id: must be at least 1"):
        dengine.Node(id=0, data_dir=tmp_path)
    # Checked by dengine_config_*, which names the option too.
    with pytest.raises(dengine.InvalidArgumentError, match="peer_address: bad address"):
        dengine.Node(id=1, data_dir=tmp_path, peer_address="nowhere")
    with pytest.raises(
        dengine.InvalidArgumentError, match="tick_ms: expected an integer"
    ):
        dengine.Node(id=1, data_dir=tmp_path, tick_ms=2.5)
    with pytest.raises(
        dengine.InvalidArgumentError, match="tick_ms: must be between 1 and 10000"
    ):
        dengine.Node(id=1, data_dir=tmp_path, tick_ms=0)
    with pytest.raises(
        dengine.InvalidArgumentError, match="snapshots_kept: must be between 1"
    ):
        dengine.Node(id=1, data_dir=tmp_path, snapshots_kept=0)
    with pytest.raises(dengine.InvalidArgumentError, match="kv_backend"):
        dengine.Node(id=1, data_dir=tmp_path, kv_backend="sqlite")
    # A rule across options, checked when the node starts.
    with pytest.raises(
        dengine.InvalidArgumentError,
        match=r"election_ticks: must be greater than heartbeat_ticks \(5\)",
    ):
        dengine.Node(id=1, data_dir=tmp_path, election_ticks=5, heartbeat_ticks=5)


def test_toml_configuration(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        f"""
[node]
id = 1
data_dir = "{tmp_path / "data"}"
peer_address = "127.0.0.1:0"

[cluster]
initial_voters = [1]

[storage]
log_backend = "rocksdb"
kv_backend = "file"
snapshot_entries = 100
snapshot_bytes = "1MiB"
snapshots_kept = 3

[raft]
tick_ms = 20
default_read = "lease"

[log]
level = "debug"
"""
    )
    logger = logging.getLogger("dengine")
    level = logger.level
    with dengine.Node(config=config) as node:
        node.wait_for_leader()
        node.put("k", "v")
        assert node.get("k") == b"v"
        assert node.id == 1
    # The file's [log] level is the process's business, not the node's.
    assert logger.level == level


def test_keywords_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        f'[node]\nid = 1\ndata_dir = "{tmp_path / "one"}"\n'
        "[cluster]\ninitial_voters = [1]\n"
    )
    # The keyword id is not the file's voter: the rule across the two names it.
    with pytest.raises(
        dengine.InvalidArgumentError,
        match=r"initial_voters: must contain this node \(id 2\)",
    ):
        dengine.Node(config=config, id=2)
    with dengine.Node(
        config=config, data_dir=tmp_path / "two", tick_ms=20, election_ticks=10
    ) as node:
        assert node.id == 1
        node.wait_for_leader()
    assert (tmp_path / "two").is_dir()
    assert not (tmp_path / "one").exists()


def test_the_old_key_of_kv_backend_still_works(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        f'[node]\nid = 1\ndata_dir = "{tmp_path / "data"}"\n'
        '[storage]\nstate_machine = "file"\n'
    )
    with dengine.Node(config=config) as node:
        assert node.id == 1


def test_bad_files_name_the_place_and_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[node]\nid = 1\ndata_dri = "x"\n')
    with pytest.raises(
        dengine.InvalidArgumentError,
        match=f'{bad}:3:1: node.data_dri: unknown key; did you mean "data_dir"',
    ):
        dengine.Node(config=bad)
    bad.write_text('[raft]\ntick_ms = "fast"\n')
    with pytest.raises(
        dengine.InvalidArgumentError,
        match="bad.toml:2:11: raft.tick_ms: expected an integer, got a string",
    ):
        dengine.Node(config=bad, id=1, data_dir=tmp_path / "x")
    bad.write_text('[storage]\nsnapshot_bytes = "64MB"\n')
    with pytest.raises(dengine.InvalidArgumentError, match="64MiB"):
        dengine.Node(config=bad, id=1, data_dir=tmp_path / "x")
    with pytest.raises(dengine.IOError, match="No such file"):
        dengine.Node(config=tmp_path / "missing.toml")


def test_watch_history_options(tmp_path: Path) -> None:
    # The smallest values the library allows; a size may be a string.
    with dengine.Node(
        id=1,
        data_dir=tmp_path / "keywords",
        initial_voters=[1],
        watch_history_events=1,
        watch_history_bytes="4KiB",
    ) as node:
        assert node.id == 1
    with pytest.raises(
        dengine.InvalidArgumentError,
        match="watch_history_events: must be between 1 and 100000000, got 0",
    ):
        dengine.Node(id=1, data_dir=tmp_path, watch_history_events=0)
    with pytest.raises(
        dengine.InvalidArgumentError,
        match="watch_history_bytes: must be between 4096 and 1099511627776, got 1",
    ):
        dengine.Node(id=1, data_dir=tmp_path, watch_history_bytes=1)
    with pytest.raises(
        dengine.InvalidArgumentError, match="watch_history_bytes: expected a size"
    ):
        dengine.Node(id=1, data_dir=tmp_path, watch_history_bytes="64MB")
    with pytest.raises(
        dengine.InvalidArgumentError, match="watch_history_events: expected an integer"
    ):
        dengine.Node(id=1, data_dir=tmp_path, watch_history_events="10")

    config = tmp_path / "node.toml"
    config.write_text(
        f'[node]\nid = 1\ndata_dir = "{tmp_path / "file"}"\n'
        "[cluster]\ninitial_voters = [1]\n"
        '[storage]\nwatch_history_events = 10\nwatch_history_bytes = "1MiB"\n'
    )
    with dengine.Node(config=config) as node:
        assert node.id == 1
    config.write_text("[storage]\nwatch_history_events = 0\n")
    with pytest.raises(
        dengine.InvalidArgumentError,
        match="node.toml:2:24: storage.watch_history_events: must be between 1",
    ):
        dengine.Node(config=config, id=1, data_dir=tmp_path / "x")
