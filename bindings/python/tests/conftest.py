"""Shared fixtures: free loopback ports and clusters of in-process nodes."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dengine

sys.path.insert(0, str(Path(__file__).parent))

from machines import KVMachine

# Fast elections keep the tests short: a tick of 20 ms, elections after
# 10-20 ticks (0.2-0.4 s without a leader).
FAST = {"tick_ms": 20, "election_ticks": 10, "heartbeat_ticks": 2}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    condition: Callable[[], Any], timeout: float = 20.0, what: str = ""
) -> Any:
    """Polls `condition` until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class Cluster:
    """Nodes 1..n in this process, each with a KVMachine, on loopback."""

    def __init__(self, root: Path, size: int = 3, **options: Any) -> None:
        self.root = root
        self.ports = {i: free_port() for i in range(1, size + 1)}
        self.options = {**FAST, "snapshot_entries": 0, "snapshot_bytes": 0, **options}
        self.nodes: dict[int, dengine.Node] = {}
        self.machines: dict[int, KVMachine] = {}
        for i in self.ports:
            self.start(i, initial=True)

    def address(self, i: int) -> str:
        return f"127.0.0.1:{self.ports[i]}"

    def start(self, i: int, initial: bool, **options: Any) -> dengine.Node:
        self.ports.setdefault(i, free_port())
        machine = KVMachine(self.root / f"machine{i}")
        peers = {p: self.address(p) for p in self.ports if p != i}
        extra = {"initial_voters": sorted(self.ports)} if initial else {}
        node = dengine.Node(
            machine,
            id=i,
            data_dir=self.root / f"node{i}",
            peer_address=self.address(i),
            peers=peers,
            **extra,
            **self.options,
            **options,
        )
        self.nodes[i], self.machines[i] = node, machine
        return node

    def stop(self, i: int) -> None:
        self.nodes.pop(i).close()

    def leader(self) -> dengine.Node:
        """The node every running node agrees leads."""

        def agreed() -> int:
            leaders = {n.status().leader_id for n in self.nodes.values()}
            leader = leaders.pop() if len(leaders) == 1 else 0
            return leader if leader in self.nodes else 0

        return self.nodes[wait_until(agreed, what="an agreed leader")]

    def followers(self) -> list[dengine.Node]:
        leader = self.leader()
        return [n for n in self.nodes.values() if n is not leader]

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()
        self.nodes.clear()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    c.close()


@pytest.fixture
def kv_node(tmp_path: Path) -> Iterator[dengine.Node]:
    """One node running the built-in KV machine, leading itself."""
    with dengine.Node(
        id=1, data_dir=tmp_path / "node", initial_voters=[1], **FAST
    ) as node:
        node.wait_for_leader()
        yield node
