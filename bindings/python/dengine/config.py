"""A node's configuration, from keyword arguments or a TOML file.

The TOML file has the sections and keys of ``docs/operations.md`` (the
``dengined`` file), so one file can serve both; keyword arguments use the
same names without their section (``tick_ms=20``, ``peers={2: "host:port"}``)
and override the file. Every value is checked at once, with the key named.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from . import _dengine
from .errors import InvalidArgumentError

# Each TOML key and the keyword argument it becomes.
_TOML_KEYS: dict[str, dict[str, str | None]] = {
    "node": {
        "id": "id",
        "cluster_id": "cluster_id",
        "data_dir": "data_dir",
        "peer_address": "peer_address",
        "client_address": "client_address",
    },
    "cluster": {"initial_voters": "initial_voters", "peers": "peers"},
    "storage": {
        "log_backend": "log_backend",
        "state_machine": "kv_backend",
        "snapshot_entries": "snapshot_entries",
        "snapshot_bytes": "snapshot_bytes",
        "max_entry_bytes": "max_entry_bytes",
        "snapshots_kept": None,  # dengined only: no dengine_config_* for it
    },
    "raft": {
        "tick_ms": "tick_ms",
        "election_ticks": "election_ticks",
        "heartbeat_ticks": "heartbeat_ticks",
        "default_read": "default_read",
    },
    "log": {"level": "log_level"},
}

OPTIONS = frozenset(
    name for keys in _TOML_KEYS.values() for name in keys.values() if name
)

_LOG_BACKENDS = {"wal": _dengine.STORAGE_WAL, "rocksdb": _dengine.STORAGE_ROCKSDB}
_KV_BACKENDS = {"rocksdb": _dengine.KV_ROCKSDB, "file": _dengine.KV_FILE}
_READS = {
    "linearizable": _dengine.READ_LINEARIZABLE,
    "lease": _dengine.READ_LEASE,
    "eventual": _dengine.READ_EVENTUAL,
}
_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
_SIZE = re.compile(r"^(\d+)(B|KiB|MiB|GiB|TiB)$")
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}

# dengine_config_new's defaults, for the settings the C API sets together.
_DEFAULT_TIMING = {"tick_ms": 50, "election_ticks": 10, "heartbeat_ticks": 2}
_DEFAULT_SNAPSHOT = {"snapshot_entries": 10000, "snapshot_bytes": 64 << 20}


def _unknown(kind: str, name: str, known: Sequence[str]) -> InvalidArgumentError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return InvalidArgumentError(f"{name}: unknown {kind}{hint}")


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a dengined-style TOML file into keyword options."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise InvalidArgumentError(f"{os.fspath(path)}: {e}") from e
    options: dict[str, Any] = {}
    for section, table in document.items():
        keys = _TOML_KEYS.get(section)
        if keys is None:
            raise _unknown("section", section, list(_TOML_KEYS))
        if not isinstance(table, dict):
            raise InvalidArgumentError(f"{section}: expected a table")
        for key, value in table.items():
            if key not in keys:
                raise _unknown(
                    "key", f"{section}.{key}", [f"{section}.{k}" for k in keys]
                )
            option = keys[key]
            if option is None:
                raise InvalidArgumentError(
                    f"{section}.{key}: not available to an embedded node "
                    "(dengined only)"
                )
            options[option] = value
    return options


def _int(name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name}: expected an integer, got {value!r}")
    if value < low:
        raise InvalidArgumentError(f"{name}: must be at least {low}, got {value}")
    return value


def _size(name: str, value: Any) -> int:
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise InvalidArgumentError(
                f'{name}: expected a size such as 1048576 or "64MiB", got {value!r}'
            )
        return int(match.group(1)) * _UNITS[match.group(2)]
    return _int(name, value)


def _choice(name: str, value: Any, choices: Mapping[str, int]) -> int:
    if value not in choices:
        allowed = ", ".join(f'"{c}"' for c in choices)
        raise InvalidArgumentError(f"{name}: expected one of {allowed}, got {value!r}")
    return choices[value]


def _peers(value: Any) -> list[tuple[int, str, str | None]]:
    """Peers as a {id: address} mapping or a list of {id, address,
    client_address} tables."""
    if isinstance(value, Mapping):
        return [(_int("peers id", k, 1), str(v), None) for k, v in value.items()]
    out = []
    for peer in value:
        if not isinstance(peer, Mapping):
            raise InvalidArgumentError(f"peers: expected tables, got {peer!r}")
        extra = set(peer) - {"id", "address", "client_address"}
        if extra:
            raise InvalidArgumentError(f"peers: unknown key {min(extra)}")
        if "id" not in peer or "address" not in peer:
            raise InvalidArgumentError("peers: each peer needs id and address")
        out.append(
            (
                _int("peers id", peer["id"], 1),
                peer["address"],
                peer.get("client_address"),
            )
        )
    return out


def build(options: Mapping[str, Any]) -> _dengine.Config:
    """A ``_dengine.Config`` from keyword options (see :class:`dengine.Node`)."""
    for name in options:
        if name not in OPTIONS:
            raise _unknown("option", name, sorted(OPTIONS))
    for required in ("id", "data_dir"):
        if required not in options:
            raise InvalidArgumentError(
                f"{required}: missing (a node needs id and data_dir)"
            )
    config = _dengine.Config()
    config.set_node_id(_int("id", options["id"], 1))
    config.set_data_dir(os.fspath(options["data_dir"]))
    if "cluster_id" in options:
        config.set_cluster_id(_int("cluster_id", options["cluster_id"]))
    if "peer_address" in options:
        config.set_listen_address(options["peer_address"])
    if "client_address" in options:
        config.set_client_address(options["client_address"])
    for peer_id, address, client_address in _peers(options.get("peers", ())):
        config.add_peer(peer_id, address)
        if client_address is not None:
            config.add_peer_client_address(peer_id, client_address)
    if "initial_voters" in options:
        voters = [_int("initial_voters", v, 1) for v in options["initial_voters"]]
        config.set_initial_voters(voters)
    if "log_backend" in options:
        config.set_storage(
            _choice("log_backend", options["log_backend"], _LOG_BACKENDS)
        )
    if "kv_backend" in options:
        config.set_kv_backend(
            _choice("kv_backend", options["kv_backend"], _KV_BACKENDS)
        )
    if any(k in options for k in _DEFAULT_TIMING):
        timing = {k: _int(k, options.get(k, d), 1) for k, d in _DEFAULT_TIMING.items()}
        config.set_timing(
            timing["tick_ms"], timing["election_ticks"], timing["heartbeat_ticks"]
        )
    if "default_read" in options:
        config.set_default_read(
            _choice("default_read", options["default_read"], _READS)
        )
    if any(k in options for k in _DEFAULT_SNAPSHOT):
        config.set_snapshot_policy(
            _int("snapshot_entries", options.get("snapshot_entries", 10000)),
            _size("snapshot_bytes", options.get("snapshot_bytes", 64 << 20)),
        )
    if "max_entry_bytes" in options:
        config.set_max_entry_bytes(_size("max_entry_bytes", options["max_entry_bytes"]))
    if "log_level" in options:
        level = _choice("log_level", options["log_level"], _LOG_LEVELS)
        logging.getLogger("dengine").setLevel(level)
    return config
