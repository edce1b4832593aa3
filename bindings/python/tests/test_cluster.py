"""A Python state machine on a 3-node cluster in this process: proposals,
redirects, reads at each consistency, async proposals, leader changes,
membership, snapshots for a late learner, and losing the leader."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from conftest import Cluster, wait_until

import dengine


def state(node: dengine.Node) -> dict[str, str]:
    return json.loads(node.read(b"", consistency="eventual"))


def test_replicas_apply_the_same_commands(cluster: Cluster) -> None:
    leader = cluster.leader()
    assert leader.propose(b"set a 1").data == b""
    result = leader.propose(b"set a 2")
    assert result.status == 0 and result.data == b"1" and result.index > 0
    assert leader.propose("append a 3").data == b"2"
    assert leader.propose(b"nonsense").status == 1  # the machine's own status

    for node in cluster.followers():
        assert node.read(b"a", consistency="linearizable") == b"23"
    assert leader.read(b"a", consistency="lease") == b"23"
    wait_until(lambda: all(state(n) == {"a": "23"} for n in cluster.nodes.values()))
    assert all(n.status().applied_index >= result.index for n in cluster.nodes.values())


def test_a_follower_names_the_leader(cluster: Cluster) -> None:
    leader = cluster.leader()
    follower = cluster.followers()[0]
    with pytest.raises(dengine.NotLeaderError) as info:
        follower.propose(b"set k v")
    assert info.value.leader_id == leader.id
    assert info.value.leader_address == cluster.address(leader.id)
    assert info.value.code == dengine.NotLeaderError.code


def test_many_async_proposals(cluster: Cluster) -> None:
    leader = cluster.leader()
    futures = [leader.propose_async(f"append n {i},") for i in range(100)]
    results = [f.result(timeout=20) for f in futures]
    assert sorted(r.index for r in results) == sorted({r.index for r in results})
    value = leader.read(b"n")
    assert sorted(int(x) for x in value.decode().strip(",").split(",")) == list(
        range(100)
    )

    async def propose_all() -> list[dengine.Result]:
        return await asyncio.gather(
            *(
                asyncio.wrap_future(leader.propose_async(f"set a{i} {i}"))
                for i in range(20)
            )
        )

    assert len(asyncio.run(propose_all())) == 20
    follower = cluster.followers()[0]
    with pytest.raises(dengine.NotLeaderError) as info:
        follower.propose_async(b"set k v").result(timeout=10)
    assert info.value.leader_id == leader.id


def test_leader_changes_are_reported(cluster: Cluster) -> None:
    leader = cluster.leader()
    target = cluster.followers()[0]
    changes: list[tuple[int, int]] = []
    moved = threading.Event()

    def on_change(leader_id: int, term: int) -> None:
        changes.append((leader_id, term))
        if leader_id == target.id:
            moved.set()

    target.on_leader_change = on_change
    leader.transfer_leadership(target.id)
    assert moved.wait(10), changes
    # The callback may run a moment before status() shows the change.
    wait_until(lambda: target.status().is_leader, what="status to show the new leader")
    assert target.propose(b"set after transfer").status == 0
    assert changes[-1][1] > 0


def test_membership_and_a_late_learner_gets_a_snapshot(cluster: Cluster) -> None:
    leader = cluster.leader()
    for i in range(30):
        leader.propose(f"set k{i} {i}")
    index = leader.snapshot()
    assert index >= 30
    assert leader.status().snapshot_index == index
    for i in range(30, 40):
        leader.propose(f"set k{i} {i}")

    learner = cluster.start(4, initial=False)
    leader.add_learner(4, cluster.address(4))
    machine = cluster.machines[4]
    expected = state(leader)
    # The log before the snapshot is gone: the learner can only catch up by
    # installing it, through its machine's restore().
    wait_until(lambda: state(learner) == expected, what="the learner to catch up")
    assert machine.restores == 1

    wait_until(lambda: _promoted(leader, 4), what="promotion")
    status = leader.status()
    assert {m.id: m.voter for m in status.members} == {
        1: True,
        2: True,
        3: True,
        4: True,
    }

    leader.remove(4)
    assert 4 not in {m.id for m in leader.status().members}


def _promoted(leader: dengine.Node, id: int) -> bool:
    try:
        leader.promote(id)
        return True
    except dengine.BusyError:
        return False


def test_losing_the_leader_loses_no_acknowledged_write(cluster: Cluster) -> None:
    leader = cluster.leader()
    acknowledged = {}
    for i in range(20):
        leader.propose(f"set k{i} {i}")
        acknowledged[f"k{i}"] = str(i)
    old = leader.id
    cluster.stop(old)

    new_leader = cluster.leader()
    assert new_leader.id != old
    for i in range(20, 30):
        new_leader.propose(f"set k{i} {i}")
        acknowledged[f"k{i}"] = str(i)
    for node in cluster.nodes.values():
        assert json.loads(node.read(b"")) == acknowledged

    # The old leader comes back and catches up from its data directory.
    back = cluster.start(old, initial=False)
    wait_until(lambda: state(back) == acknowledged, what="the old leader to catch up")
