"""Shared fixtures: free loopback ports, clusters of in-process nodes and
of node processes, and a test CA for TLS."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dengine

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from machines import KVMachine

# Fast elections keep the tests short: a tick of 20 ms, elections after
# 10-20 ticks (0.2-0.4 s without a leader).
FAST = {"tick_ms": 20, "election_ticks": 10, "heartbeat_ticks": 2}


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on right now, and never one handed out
    before in this process: the kernel may give a just-closed port again,
    and two nodes of one cluster must not be told the same address."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


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


class ProcessCluster:
    """Nodes 1..3, each in a process of its own (node_process.py) serving
    clients: a KVMachine each, or the built-in KV machine (``builtin_kv``)."""

    def __init__(self, root: Path, builtin_kv: bool = False) -> None:
        self.root = root
        self.builtin_kv = builtin_kv
        self.peer = {i: f"127.0.0.1:{free_port()}" for i in (1, 2, 3)}
        self.client = {i: f"127.0.0.1:{free_port()}" for i in (1, 2, 3)}
        self.processes: dict[int, subprocess.Popen[str]] = {}

    def start(self, i: int, initial: bool) -> None:
        spec = {
            "root": str(self.root),
            "id": i,
            "initial": initial,
            "builtin_kv": self.builtin_kv,
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

    def kill_all(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()
        self.processes.clear()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessCluster]:
    cluster = ProcessCluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.kill_all()


class CertificateAuthority:
    """A throwaway CA in ``dir``, made with the openssl command line (EC
    P-256 keys), that issues node and client certificates beside it."""

    _EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def __init__(self, dir: Path) -> None:
        self.dir = dir
        dir.mkdir(parents=True, exist_ok=True)
        self._openssl(
            "req", "-x509", *self._EC, "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=test CA",
        )

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    def issue(self, stem: str, cn: str, sans: str = "") -> None:
        """Writes <stem>.crt and <stem>.key (a new key each time), for the
        common name ``cn`` and the subjectAltName list ``sans``."""
        self._openssl(
            "req", *self._EC, "-keyout", f"{stem}.key", "-out", f"{stem}.csr",
            "-subj", f"/CN={cn}",
        )
        ext = self.dir / f"{stem}.ext"
        ext.write_text(f"subjectAltName={sans}\n" if sans else "")
        self._openssl(
            "x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.crt", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "2", "-extfile", ext.name,
            "-out", f"{stem}.crt",
        )

    def node(self, node_id: int, cn: str | None = None) -> dict[str, Any]:
        """Issues node-<id>.crt and .key (names: the node's URI SAN,
        127.0.0.1 and localhost) and returns them as Node TLS keywords."""
        stem = f"node-{node_id}"
        self.issue(
            stem, cn or stem, f"URI:dengine:node:{node_id},IP:127.0.0.1,DNS:localhost"
        )
        return {
            "tls_cert_file": self.dir / f"{stem}.crt",
            "tls_key_file": self.dir / f"{stem}.key",
            "tls_ca_file": self.ca_file,
        }

    def client(self, identity: str | None, **options: Any) -> dengine.ClientTLS:
        """Client TLS options trusting this CA: with a certificate whose
        common name is ``identity`` (issued on first use), or none (None)."""
        if identity is None:
            return dengine.ClientTLS(ca_file=self.ca_file, **options)
        if not (self.dir / f"{identity}.crt").exists():
            self.issue(identity, identity)
        return dengine.ClientTLS(
            ca_file=self.ca_file,
            cert_file=self.dir / f"{identity}.crt",
            key_file=self.dir / f"{identity}.key",
            **options,
        )

    def _openssl(self, *args: str) -> None:
        subprocess.run(
            ["openssl", *args], cwd=self.dir, check=True, capture_output=True
        )


@pytest.fixture
def tls_ca(tmp_path: Path) -> CertificateAuthority:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command line")
    return CertificateAuthority(tmp_path / "tls")
