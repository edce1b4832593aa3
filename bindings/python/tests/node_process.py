"""One cluster member in its own process, for conftest.ProcessCluster: a
KVMachine (or, with "builtin_kv", the built-in KV machine) on a node that
serves clients. Prints "ready" once started and runs until its standard
input closes (or it is killed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from machines import KVMachine

import dengine

FAST = {"tick_ms": 20, "election_ticks": 10, "heartbeat_ticks": 2}


def main() -> None:
    spec = json.loads(sys.argv[1])
    root = Path(spec["root"])
    node_id = spec["id"]
    options = {"initial_voters": spec["voters"]} if spec["initial"] else {}
    machine = None if spec["builtin_kv"] else KVMachine(root / f"machine{node_id}")
    with dengine.Node(
        machine,
        id=node_id,
        data_dir=root / f"node{node_id}",
        peer_address=spec["peer"],
        client_address=spec["client"],
        peers=spec["peers"],
        **options,
        **FAST,
    ):
        print("ready", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
