"""A Python state machine on a 3-node cluster in three processes, driven by
dengine.Client: the leader's process is killed with SIGKILL and no
acknowledged write is lost."""

from __future__ import annotations

import json
import time

from conftest import ProcessCluster, wait_until
from machines import STATE, decode

import dengine

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
