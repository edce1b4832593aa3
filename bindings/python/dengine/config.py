"""A node's configuration: a TOML file, then keyword arguments over it.

The file is the ``dengined`` file of ``docs/operations.md``; the library
reads and checks it (``dengine_config_load_toml``), so its sections, keys
and rules are written once, in C++, for every language. Keyword arguments
have the same names without their section (``tick_ms=20``,
``kv_backend="file"``) and are applied after the file, so they win; each
goes to its ``dengine_config_set_*`` setter, which checks it at once and
names the option when it refuses it.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _dengine
from .errors import InvalidArgumentError

_U32 = (1 << 32) - 1
_U64 = (1 << 64) - 1

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
_SIZE = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB|TiB)$")
_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def _unknown(name: str, known: Sequence[str]) -> InvalidArgumentError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return InvalidArgumentError(f"{name}: unknown option{hint}")


# What a keyword's value must be to reach its setter: the setters check the
# rest (ranges, addresses), with the option named.


def _int(name: str, value: Any, top: int = _U64) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name}: expected an integer, got {value!r}")
    if value < 0:
        raise InvalidArgumentError(f"{name}: must not be negative, got {value}")
    if value > top:
        raise InvalidArgumentError(f"{name}: must be at most {top}, got {value}")
    return value


def _size(name: str, value: Any) -> int:
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise InvalidArgumentError(
                f'{name}: expected a size such as 1048576 or "64MiB", got {value!r}'
            )
        return _int(name, int(match.group(1)) * _UNITS[match.group(2)])
    return _int(name, value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name}: expected a string, got {value!r}")
    return value


def _choice(name: str, value: Any, choices: Mapping[str, int]) -> int:
    if value not in choices:
        allowed = ", ".join(f'"{c}"' for c in choices)
        raise InvalidArgumentError(f"{name}: expected one of {allowed}, got {value!r}")
    return choices[value]


def _set_peers(config: _dengine.Config, value: Any) -> None:
    """Peers as a {id: address} mapping or a list of {id, address,
    client_address} tables; added to the file's (the same id: replaced)."""
    if isinstance(value, Mapping):
        for peer_id, address in value.items():
            config.add_peer(_int("peers", peer_id), _text("peers", address))
        return
    for peer in value:
        if not isinstance(peer, Mapping):
            raise InvalidArgumentError(f"peers: expected tables, got {peer!r}")
        extra = set(peer) - {"id", "address", "client_address"}
        if extra:
            raise InvalidArgumentError(f"peers: unknown key {min(extra)}")
        if "id" not in peer or "address" not in peer:
            raise InvalidArgumentError("peers: each peer needs id and address")
        peer_id = _int("peers", peer["id"])
        config.add_peer(peer_id, _text("peers", peer["address"]))
        if peer.get("client_address") is not None:
            config.add_peer_client_address(
                peer_id, _text("peers", peer["client_address"])
            )


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name}: expected True or False, got {value!r}")
    return value


def _set_admin_identities(config: _dengine.Config, value: Any) -> None:
    """tls_admin_identities: a list of certificate common names."""
    if isinstance(value, str):
        raise InvalidArgumentError(
            f"tls_admin_identities: expected a list of names, got {value!r}"
        )
    for identity in value:
        config.add_tls_admin_identity(_text("tls_admin_identities", identity))


# Each keyword option and how it is set: one per dengine_config_* setter,
# named as the TOML key is.
_SETTERS: dict[str, Callable[[_dengine.Config, Any], None]] = {
    "id": lambda c, v: c.set_node_id(_int("id", v)),
    "cluster_id": lambda c, v: c.set_cluster_id(_int("cluster_id", v)),
    "data_dir": lambda c, v: c.set_data_dir(os.fspath(v)),
    "peer_address": lambda c, v: c.set_peer_address(_text("peer_address", v)),
    "client_address": lambda c, v: c.set_client_address(_text("client_address", v)),
    "peers": _set_peers,
    "initial_voters": lambda c, v: c.set_initial_voters(
        [_int("initial_voters", voter) for voter in v]
    ),
    "log_backend": lambda c, v: c.set_log_backend(
        _choice("log_backend", v, _LOG_BACKENDS)
    ),
    "kv_backend": lambda c, v: c.set_kv_backend(_choice("kv_backend", v, _KV_BACKENDS)),
    "snapshot_entries": lambda c, v: c.set_snapshot_entries(_int("snapshot_entries", v)),
    "snapshot_bytes": lambda c, v: c.set_snapshot_bytes(_size("snapshot_bytes", v)),
    "snapshots_kept": lambda c, v: c.set_snapshots_kept(
        _int("snapshots_kept", v, _U32)
    ),
    "max_entry_bytes": lambda c, v: c.set_max_entry_bytes(_size("max_entry_bytes", v)),
    "watch_history_events": lambda c, v: c.set_watch_history_events(
        _int("watch_history_events", v)
    ),
    "watch_history_bytes": lambda c, v: c.set_watch_history_bytes(
        _size("watch_history_bytes", v)
    ),
    "tick_ms": lambda c, v: c.set_tick_ms(_int("tick_ms", v, _U32)),
    "election_ticks": lambda c, v: c.set_election_ticks(
        _int("election_ticks", v, _U32)
    ),
    "heartbeat_ticks": lambda c, v: c.set_heartbeat_ticks(
        _int("heartbeat_ticks", v, _U32)
    ),
    "default_read": lambda c, v: c.set_default_read(_choice("default_read", v, _READS)),
    "tls_cert_file": lambda c, v: c.set_tls_cert_file(os.fspath(v)),
    "tls_key_file": lambda c, v: c.set_tls_key_file(os.fspath(v)),
    "tls_ca_file": lambda c, v: c.set_tls_ca_file(os.fspath(v)),
    "tls_min_version": lambda c, v: c.set_tls_min_version(_text("tls_min_version", v)),
    "tls_require_client_cert": lambda c, v: c.set_tls_require_client_cert(
        _bool("tls_require_client_cert", v)
    ),
    "tls_admin_identities": _set_admin_identities,
}

# Not a node option: the level of the "dengine" logger (a file's [log] level
# is accepted and left alone, as the C API does).
_LOG_LEVEL = "log_level"

OPTIONS = frozenset(_SETTERS) | {_LOG_LEVEL}


def build(
    options: Mapping[str, Any], file: str | os.PathLike[str] | None = None
) -> _dengine.Config:
    """A ``_dengine.Config`` from a TOML file (None: none) and keyword
    options over it (see :class:`dengine.Node`)."""
    for name in options:
        if name not in OPTIONS:
            raise _unknown(name, sorted(OPTIONS))
    config = _dengine.Config()
    if file is not None:
        config.load_toml(os.fspath(file))
    for name, value in options.items():
        if name != _LOG_LEVEL:
            _SETTERS[name](config, value)
    if _LOG_LEVEL in options:
        level = _choice(_LOG_LEVEL, options[_LOG_LEVEL], _LOG_LEVELS)
        logging.getLogger("dengine").setLevel(level)
    return config
