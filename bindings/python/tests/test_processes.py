"""A Python state machine on a 3-node cluster in three processes, driven by
dengine.Client: the leader's process is killed with SIGKILL and no
acknowledged write is lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, wait_until
from machines import STATE, decode

import dengine

HERE = Path(__file__).parent


class ProcessCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.peer = {i: f"127.0.0.1:{free_port()}" for i in (1, 2, 3)}
        self.client = {i: f"127.0.0.1:{free_port()}" for i in (1, 2, 3)}
        self.processes: dict[int, subprocess.Popen[str]] = {}

    def start(self, i: int, initial: bool) -> None:
        spec = {
            "root": str(self.root),
            "id": i,
            "initial": initial,
            "voters": [1, 2, 3],
            "peer": self.peer[i],
            "client": self.client[i],
            "peers": [
                {"id": p, "address": self.peer[p], "client_address": self.client[p]}
                for p in self.peer
                if p != i
            ],
        }
        process = subprocess.Popen(
            [sys.executable, str(HERE / "node_process.py"), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        self.processes[i] = process

    def kill(self, i: int) -> None:
        process = self.processes.pop(i)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            assert process.stdin is not None
            process.stdin.close()  # the node closes cleanly
        for process in self.processes.values():
            process.wait(timeout=30)
        self.processes.clear()

    def endpoints(self) -> list[str]:
        return [self.client[i] for i in sorted(self.client)]


def propose_through_failover(client: dengine.Client, command: str) -> dengine.Result:
    """Proposes until a leader answers. The client retries by itself, but at
    most 10 times, which an election after a kill can outlast; a failed
    attempt's outcome is unknown, which `set` commands tolerate."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return client.propose(command)
        except (dengine.NotLeaderError, dengine.TimeoutError, dengine.IOError):
            if time.monotonic() > deadline:
                raise


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessCluster]:
    cluster = ProcessCluster(tmp_path)
    try:
        yield cluster
    finally:
        for process in cluster.processes.values():
            process.kill()
            process.wait()


def test_killing_the_leader_process_loses_no_acknowledged_write(
    processes: ProcessCluster,
) -> None:
    for i in (1, 2, 3):
        processes.start(i, initial=True)
    acknowledged: dict[str, str] = {}
    with dengine.Client(processes.endpoints(), timeout=20) as client:
        for i in range(20):
            assert client.propose(f"set k{i} {i}").status == 0
            acknowledged[f"k{i}"] = str(i)
        leader = client.status().leader_id
        assert leader in (1, 2, 3)

        processes.kill(leader)
        # The client finds the new leader and its writes go on.
        for i in range(20, 40):
            assert propose_through_failover(client, f"set k{i} {i}").status == 0
            acknowledged[f"k{i}"] = str(i)
        new_leader = client.status().leader_id
        assert new_leader not in (0, leader)
        assert json.loads(client.read(b"", consistency="linearizable")) == acknowledged

    # The killed node restarts from its data directory and catches up.
    processes.start(leader, initial=False)
    # Its machine's state file, replaced atomically after each chunk, shows
    # what it applied.
    state_file = processes.root / f"machine{leader}" / STATE
    wait_until(
        lambda: decode(state_file.read_bytes())[1] == acknowledged,
        what="the restarted node to catch up",
    )
    processes.stop_all()
