"""State machines the tests run: a small durable key-value machine in Python.

Commands: ``set <key> <value>`` and ``append <key> <value>`` (result: the
previous value), ``boom`` (apply raises). Reads: a key's value (b"" when absent), or with an empty query the
whole state as JSON. The state ``{last_applied, data}`` is one JSON file,
replaced atomically after every chunk, so apply is durable when it returns.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import dengine

STATE = "state.json"


def write_atomically(path: Path, content: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode(last_applied: int, data: dict[str, str]) -> bytes:
    return json.dumps(
        {"last_applied": last_applied, "data": data}, sort_keys=True
    ).encode()


def decode(content: bytes) -> tuple[int, dict[str, str]]:
    state = json.loads(content)
    return state["last_applied"], state["data"]


class KVMachine(dengine.StateMachine):
    skips_redelivered = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()  # read() runs beside apply()
        self.restores = 0
        state_file = self.dir / STATE
        if state_file.exists():
            self._last, self.data = decode(state_file.read_bytes())
        else:
            self._last, self.data = 0, {}

    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        data = dict(self.data)
        last = self._last
        results: list[dengine.ApplyResult] = []
        for entry in entries:
            if entry.index <= self._last and self.skips_redelivered:
                results.append((2, None))  # re-delivered after a crash
                continue
            last = entry.index
            if entry.kind != dengine.EntryKind.NORMAL:
                results.append(None)
                continue
            if entry.data == b"boom":
                raise RuntimeError(f"boom at index {entry.index}")
            parts = entry.data.decode("latin-1").split(" ", 2)
            if len(parts) != 3 or parts[0] not in ("set", "append"):
                results.append((1, b"bad command"))
                continue
            previous = data.get(parts[1], "")
            data[parts[1]] = parts[2] if parts[0] == "set" else previous + parts[2]
            results.append(previous.encode("latin-1"))
        write_atomically(self.dir / STATE, encode(last, data))
        with self.lock:
            self.data, self._last = data, last
        return results

    def read(self, query: bytes) -> bytes:
        with self.lock:
            if not query:
                return json.dumps(self.data, sort_keys=True).encode()
            return self.data.get(query.decode("latin-1"), "").encode("latin-1")

    def last_applied(self) -> int:
        with self.lock:
            return self._last

    def __len__(self) -> int:
        with self.lock:
            return len(self.data)

    def snapshot(self, dir: str, last_index: int) -> None:
        assert last_index == self._last, (last_index, self._last)
        write_atomically(Path(dir) / STATE, encode(self._last, self.data))

    def restore(self, dir: str, meta: dengine.SnapshotMeta) -> None:
        content = (Path(dir) / STATE).read_bytes()
        last, data = decode(content)
        if last != meta.last_index:
            raise dengine.CorruptionError(
                f"snapshot holds {last}, meta says {meta.last_index}"
            )
        write_atomically(self.dir / STATE, content)
        with self.lock:
            self.data, self._last = data, last
            self.restores += 1

    def reset(self) -> None:
        write_atomically(self.dir / STATE, encode(0, {}))
        with self.lock:
            self.data, self._last = {}, 0


class ForgetfulMachine(KVMachine):
    """A bug for the conformance suite to find: re-delivered entries are
    applied again instead of skipped."""

    skips_redelivered = False


def command(n: int) -> bytes:
    """The conformance suite's n-th command: distinct n, distinct states,
    and applying one twice shows."""
    return f"append k{n % 3} {n},".encode()
