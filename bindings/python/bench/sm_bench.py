"""Proposal throughput: a Python state machine against the built-in C
(RocksDB) KV machine, on one node, with 1 and 64 proposals in flight.

A benchmark, not a test: numbers depend on the computer. Run it after
``pip install ./bindings/python``:

    python bindings/python/bench/sm_bench.py [--count N] [--json]

Each command puts an 8-byte key and a 256-byte value (the sizes of
dengine-bench). "batch 1" proposes one command at a time and waits for its
result (latency-bound: p50/p99 are reported); "batch 64" keeps 64 proposals
in flight with propose_async, so the apply thread receives chunks of many
entries and the Python machine takes the GIL once per chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sqlite3
import statistics
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dengine

VALUE = b"v" * 256
TIMING = {"tick_ms": 20, "election_ticks": 10, "heartbeat_ticks": 2}


class Counting:
    """Counts apply calls (chunks) and entries, to show the batching."""

    chunks = 0
    entries = 0

    def count(self, entries: list[dengine.Entry]) -> None:
        self.chunks += 1
        self.entries += len(entries)


class DictMachine(Counting, dengine.StateMachine):
    """The smallest useful Python machine: a dict in memory. It measures
    what the binding costs (GIL, entries, results), not a storage engine's
    durability: nothing is written to disk except snapshots."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.applied = 0

    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        self.count(entries)
        data = self.data
        for entry in entries:
            if entry.kind == dengine.EntryKind.NORMAL:
                data[entry.data[:8]] = entry.data[8:]
        self.applied = entries[-1].index
        return [None] * len(entries)

    def read(self, query: bytes) -> bytes:
        return self.data.get(query, b"")

    def last_applied(self) -> int:
        return self.applied

    def snapshot(self, dir: str, last_index: int) -> None:
        with open(os.path.join(dir, "data.pickle"), "wb") as f:
            pickle.dump((last_index, self.data), f)

    def restore(self, dir: str, meta: dengine.SnapshotMeta) -> None:
        with open(os.path.join(dir, "data.pickle"), "rb") as f:
            self.applied, self.data = pickle.load(f)


class SQLiteMachine(Counting, dengine.StateMachine):
    """A durable Python machine: each chunk is one SQLite transaction with
    last_applied (WAL journal, synchronous=NORMAL: a chunk survives a process
    crash once apply returns, a power loss once flush checkpoints), the same
    guarantee as the built-in machine's."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path / "kv.db", check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB)")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (applied INTEGER)")
        if self.db.execute("SELECT count(*) FROM meta").fetchone()[0] == 0:
            self.db.execute("INSERT INTO meta VALUES (0)")
        self.db.commit()
        self.lock = threading.Lock()  # read() may run beside apply()

    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        self.count(entries)
        applied = self.last_applied()
        rows = [
            (e.data[:8], e.data[8:])
            for e in entries
            if e.kind == dengine.EntryKind.NORMAL and e.index > applied
        ]
        with self.lock, self.db:
            self.db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", rows)
            self.db.execute("UPDATE meta SET applied = ?", (entries[-1].index,))
        return [None] * len(entries)

    def read(self, query: bytes) -> bytes:
        with self.lock:
            row = self.db.execute("SELECT v FROM kv WHERE k = ?", (query,)).fetchone()
        return row[0] if row else b""

    def last_applied(self) -> int:
        with self.lock:
            return self.db.execute("SELECT applied FROM meta").fetchone()[0]

    def flush(self) -> None:
        with self.lock:
            self.db.execute("PRAGMA wal_checkpoint(FULL)")

    def snapshot(self, dir: str, last_index: int) -> None:
        with self.lock:
            target = sqlite3.connect(os.path.join(dir, "kv.db"))
            self.db.backup(target)
            target.close()

    def restore(self, dir: str, meta: dengine.SnapshotMeta) -> None:
        source = sqlite3.connect(os.path.join(dir, "kv.db"))
        with self.lock:
            source.backup(self.db)
        source.close()


def python_command(n: int) -> bytes:
    return struct.pack("<Q", n) + VALUE


def kv_command(n: int) -> bytes:
    """A put for the built-in machine (docs/state-machine-guide.md)."""
    key = struct.pack("<Q", n)
    return (
        struct.pack("<BBQ", 1, 1, 0)
        + struct.pack("<I", len(key))
        + key
        + struct.pack("<I", len(VALUE))
        + VALUE
    )


def batch_1(node: dengine.Node, command: Callable[[int], bytes], count: int) -> dict:
    latencies = []
    start = time.perf_counter()
    for n in range(count):
        t = time.perf_counter()
        node.propose(command(n))
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "ops_per_s": count / elapsed,
        "p50_us": statistics.median(latencies) * 1e6,
        "p99_us": latencies[int(len(latencies) * 0.99)] * 1e6,
    }


def batch_64(node: dengine.Node, command: Callable[[int], bytes], count: int) -> dict:
    in_flight = threading.Semaphore(64)
    done = threading.Event()
    remaining = [count]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def finished(future: object) -> None:
        error = future.exception()  # type: ignore[attr-defined]
        with lock:
            if error is not None:
                failures.append(error)
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()
        in_flight.release()

    start = time.perf_counter()
    for n in range(count):
        in_flight.acquire()
        node.propose_async(command(n)).add_done_callback(finished)
    done.wait()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return {"ops_per_s": count / elapsed}


def run(
    name: str,
    make_machine: Callable[[Path], dengine.StateMachine | None],
    count: int,
) -> dict:
    with tempfile.TemporaryDirectory() as root:
        machine = make_machine(Path(root))
        command = kv_command if machine is None else python_command
        with dengine.Node(
            machine, id=1, data_dir=Path(root) / "node", initial_voters=[1], **TIMING
        ) as node:
            node.wait_for_leader()
            batch_1(node, command, min(count, 200))  # warm up
            result = {"machine": name, "batch_1": batch_1(node, command, count)}
            if isinstance(machine, Counting):
                machine.chunks = machine.entries = 0
            result["batch_64"] = batch_64(node, command, count * 4)
            if isinstance(machine, Counting):
                result["batch_64"]["entries_per_chunk"] = (
                    machine.entries / machine.chunks
                )
            return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--count", type=int, default=3000, help="proposals at batch 1 (x4 at 64)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    results = [
        run("built-in C KV (RocksDB)", lambda root: None, args.count),
        run("Python, SQLite", SQLiteMachine, args.count),
        run("Python, dict in memory", lambda root: DictMachine(), args.count),
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'machine':<26} {'batch 1 ops/s':>14} {'p50 us':>8} {'p99 us':>8}"
        f" {'batch 64 ops/s':>15} {'entries/chunk':>14}"
    )
    for r in results:
        b1, b64 = r["batch_1"], r["batch_64"]
        per_chunk = b64.get("entries_per_chunk")
        print(
            f"{r['machine']:<26} {b1['ops_per_s']:>14,.0f} {b1['p50_us']:>8.0f}"
            f" {b1['p99_us']:>8.0f} {b64['ops_per_s']:>15,.0f}"
            f" {'-' if per_chunk is None else f'{per_chunk:.1f}':>14}"
        )


if __name__ == "__main__":
    main()
