"""Client.watch: a watch through the client protocol, against nodes that
serve clients (in this process, and in processes of their own). It yields
what Node.watch yields, in a thread and in asyncio, and outlives the
server it is connected to: stopped or killed, the watch reconnects and
misses nothing, repeats nothing."""

from __future__ import annotations

import asyncio
import gc
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST, ProcessCluster, free_port, wait_until

import dengine
from dengine import EventType

# Every wait is for a condition; this only bounds a test that went wrong.
TIMEOUT = 30.0


def take(watch: dengine.Watch, n: int) -> list[dengine.Event]:
    """The watch's next n events, iterated in this thread; a watchdog
    closes the watch if they do not come."""
    watchdog = threading.Timer(TIMEOUT, watch.close)
    watchdog.start()
    try:
        events = list(itertools.islice(watch, n))
    finally:
        watchdog.cancel()
    assert len(events) == n, f"{len(events)} of {n} events came: {events}"
    return events


def changes(events: list[dengine.Event]) -> list[tuple[Any, ...]]:
    return [(e.type, e.key, e.value, e.prev_value) for e in events]


def increasing(events: list[dengine.Event]) -> bool:
    revisions = [e.revision for e in events]
    return revisions == sorted(set(revisions))


class ServedCluster:
    """Nodes 1..n in this process running the built-in KV machine, each
    serving clients; peers know each other's client addresses, so any
    server redirects a client to the leader."""

    def __init__(self, root: Path, size: int = 3, **options: Any) -> None:
        self.root = root
        self.options = {**FAST, **options}
        self.peer = {i: f"127.0.0.1:{free_port()}" for i in range(1, size + 1)}
        self.client = {i: f"127.0.0.1:{free_port()}" for i in self.peer}
        self.nodes: dict[int, dengine.Node] = {}
        for i in self.peer:
            self.start(i, initial=True)

    def start(self, i: int, initial: bool) -> dengine.Node:
        extra = {"initial_voters": sorted(self.peer)} if initial else {}
        self.nodes[i] = dengine.Node(
            id=i,
            data_dir=self.root / f"node{i}",
            peer_address=self.peer[i],
            client_address=self.client[i],
            peers=[
                {"id": p, "address": self.peer[p], "client_address": self.client[p]}
                for p in self.peer
                if p != i
            ],
            **extra,
            **self.options,
        )
        return self.nodes[i]

    def stop(self, i: int) -> None:
        self.nodes.pop(i).close()

    def leader(self) -> int:
        """The id of the node every running node agrees leads."""

        def agreed() -> int:
            leaders = {n.status().leader_id for n in self.nodes.values()}
            leader = leaders.pop() if len(leaders) == 1 else 0
            return leader if leader in self.nodes else 0

        return wait_until(agreed, what="an agreed leader")

    def endpoints(self, first: int) -> list[str]:
        """Every client address, `first`'s first: a client watch connects
        to the first endpoint that answers."""
        return [self.client[first]] + [
            self.client[i] for i in sorted(self.client) if i != first
        ]

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()
        self.nodes.clear()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedCluster]:
    """One node serving clients, leading itself."""
    cluster = ServedCluster(tmp_path, size=1)
    cluster.leader()
    yield cluster
    cluster.close()


@pytest.fixture
def three(tmp_path: Path) -> Iterator[ServedCluster]:
    cluster = ServedCluster(tmp_path)
    yield cluster
    cluster.close()


def test_key_and_prefix_watches_see_puts_and_deletes_in_order(
    served: ServedCluster,
) -> None:
    with (
        dengine.Client(served.endpoints(1), timeout=10) as client,
        client.watch(key="jobs/2") as two,
        client.watch(prefix=b"jobs/") as jobs,
    ):
        assert jobs.next_revision is None  # running
        client.put("jobs/1", "a")
        client.put("other", "x")
        client.put("jobs/1", "b")
        client.put("jobs/2", "c")
        assert client.delete("jobs/1") is True
        client.delete("jobs/2")
        events = take(jobs, 5)
        assert changes(events) == [
            (EventType.PUT, b"jobs/1", b"a", None),
            (EventType.PUT, b"jobs/1", b"b", b"a"),
            (EventType.PUT, b"jobs/2", b"c", None),
            (EventType.DELETE, b"jobs/1", b"", b"b"),
            (EventType.DELETE, b"jobs/2", b"", b"c"),
        ]
        assert increasing(events)
        assert take(two, 2) == [events[2], events[4]]
        # The revisions are the node's: its own watch from the first one
        # sees the same events.
        with served.nodes[1].watch(
            prefix="jobs/", start_revision=events[0].revision
        ) as local:
            assert take(local, 5) == events
    assert jobs.next_revision == events[-1].revision + 1


def test_a_past_start_revision_replays_then_follows(served: ServedCluster) -> None:
    node = served.nodes[1]
    node.put("r/1", "a")
    _, first = node.get("r/1", with_revision=True)
    node.put("r/2", "b")
    node.put("r/1", "c")
    _, now = node.get("r/1", with_revision=True)
    with (
        dengine.Client(served.endpoints(1), timeout=10) as client,
        client.watch(prefix="r/", start_revision=first) as replay,
    ):
        past = take(replay, 3)
        assert [(e.key, e.value) for e in past] == [
            (b"r/1", b"a"),
            (b"r/2", b"b"),
            (b"r/1", b"c"),
        ]
        assert past[0].revision == first and past[-1].revision == now
        client.put("r/1", "d")
        (live,) = take(replay, 1)
        assert (live.value, live.prev_value) == (b"d", b"c")
        assert live.revision > now


def test_a_compacted_start_raises_compacted_error(tmp_path: Path) -> None:
    cluster = ServedCluster(tmp_path, size=1, watch_history_events=5)
    try:
        cluster.leader()
        node = cluster.nodes[1]
        for i in range(20):
            node.put(f"k{i}", str(i))
        oldest, _ = node.watch_range()
        assert oldest > 1
        with dengine.Client(cluster.endpoints(1), timeout=10) as client:
            # The message names the oldest revision the server keeps.
            with pytest.raises(dengine.CompactedError, match=rf"\b{oldest}\b") as info:
                client.watch(prefix=b"", start_revision=1)
            assert info.value.next_revision is None  # nothing was received
            with client.watch(prefix=b"", start_revision=oldest) as watch:
                assert take(watch, 1)[0].revision == oldest
    finally:
        cluster.close()


def test_a_cluster_watch_sees_the_members_and_the_leader(
    served: ServedCluster,
) -> None:
    with (
        dengine.Client(served.endpoints(1), timeout=10) as client,
        client.watch(cluster=True, start_revision=1) as watch,
    ):
        added, promoted, leader = take(watch, 3)
        assert (added.type, added.node_id) == (EventType.MEMBER_ADDED, 1)
        assert (promoted.type, promoted.node_id) == (EventType.MEMBER_PROMOTED, 1)
        assert (leader.type, leader.node_id) == (EventType.LEADER, 1)
        assert leader.term == client.status().term


def test_async_for_awaits_on_the_loop_and_stops_on_cancel(
    served: ServedCluster,
) -> None:
    endpoints = served.endpoints(1)

    async def main() -> tuple[list[dengine.Event], int]:
        ticks = 0
        with (
            dengine.Client(endpoints, timeout=10) as watcher,
            dengine.Client(endpoints, timeout=10) as writer,
        ):
            # Client.watch blocks until a server started it: off the loop.
            watch = await asyncio.to_thread(watcher.watch, prefix="a/")
            received: list[dengine.Event] = []
            waiting = asyncio.Event()

            async def consume() -> None:
                async with watch:
                    waiting.set()
                    async for event in watch:
                        received.append(event)
                        if len(received) == 3:
                            watch.cancel()  # what is received is still yielded

            async def tick() -> None:
                nonlocal ticks
                while True:  # runs while the consumer awaits: the loop is free
                    ticks += 1
                    await asyncio.sleep(0.001)

            consumer = asyncio.create_task(consume())
            ticker = asyncio.create_task(tick())
            await waiting.wait()
            for i in range(3):
                await asyncio.to_thread(writer.put, f"a/{i}", str(i))
            await consumer
            ticker.cancel()
            assert watch.next_revision == received[-1].revision + 1
            return received, ticks

    received, ticks = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert [(e.key, e.value) for e in received] == [
        (b"a/0", b"0"),
        (b"a/1", b"1"),
        (b"a/2", b"2"),
    ]
    assert increasing(received) and ticks > 0


@pytest.mark.parametrize("end", ["close", "cancel"])
def test_ending_from_another_thread_wakes_a_blocked_iterator(
    served: ServedCluster, end: str
) -> None:
    with dengine.Client(served.endpoints(1), timeout=10) as client:
        watch = client.watch(prefix=b"w/")
        received: list[dengine.Event] = []
        outcome: list[str] = []

        def consume() -> None:
            for event in watch:
                received.append(event)
            outcome.append("stopped")

        consumer = threading.Thread(target=consume)
        consumer.start()
        client.put("w/1", "x")
        wait_until(lambda: received, what="the first event")
        getattr(watch, end)()  # the consumer is (or soon will be) waiting
        consumer.join(TIMEOUT)
        assert not consumer.is_alive() and outcome == ["stopped"]
        assert watch.next_revision == received[0].revision + 1
        watch.close()
        watch.close()  # idempotent


def test_closing_the_client_ends_its_watches_with_shutting_down(
    served: ServedCluster,
) -> None:
    client = dengine.Client(served.endpoints(1), timeout=10)
    watch = client.watch(prefix=b"c/")
    received: list[dengine.Event] = []
    ended: list[BaseException] = []

    def consume() -> None:
        try:
            for event in watch:
                received.append(event)
        except BaseException as e:
            ended.append(e)

    consumer = threading.Thread(target=consume)
    consumer.start()
    node = served.nodes[1]
    node.put("c/1", "x")
    wait_until(lambda: received, what="the first event")
    client.close()
    consumer.join(TIMEOUT)
    assert not consumer.is_alive()
    (error,) = ended
    assert isinstance(error, dengine.ShuttingDownError)
    assert "client was closed" in str(error)
    assert error.next_revision == received[-1].revision + 1
    watch.close()
    with pytest.raises(dengine.ShuttingDownError):
        client.watch(prefix=b"c/")  # a closed client starts none

    # Another client resumes from next_revision: nothing missed, nothing
    # repeated.
    node.put("c/2", "y")
    with (
        dengine.Client(served.endpoints(1), timeout=10) as other,
        other.watch(prefix=b"c/", start_revision=error.next_revision) as resumed,
    ):
        (event,) = take(resumed, 1)
        assert (event.key, event.value) == (b"c/2", b"y")


def test_a_watch_keeps_its_client_alive(served: ServedCluster) -> None:
    watch = dengine.Client(served.endpoints(1), timeout=10).watch(key="k")
    gc.collect()  # the client is referenced by the watch only
    served.nodes[1].put("k", "v")
    with watch:
        assert take(watch, 1)[0].value == b"v"


def test_a_watch_outlives_stopping_the_leader_it_is_connected_to(
    three: ServedCluster,
) -> None:
    leader = three.leader()
    with (
        dengine.Client(three.endpoints(leader), timeout=10) as client,
        client.watch(prefix="s/") as watch,
    ):
        for i in range(5):
            three.nodes[leader].put(f"s/{i}", str(i))
        before = take(watch, 5)

        three.stop(leader)  # the watch's server: its connection is lost
        new_leader = three.leader()
        assert new_leader != leader
        for i in range(5, 10):
            three.nodes[new_leader].put(f"s/{i}", str(i))
        after = take(watch, 5)
        events = before + after
        assert [(e.key, e.value) for e in events] == [
            (f"s/{i}".encode(), str(i).encode()) for i in range(10)
        ]
        assert increasing(events)
        # Nothing is repeated: the next event is the next write.
        three.nodes[new_leader].put("s/end", "")
        assert take(watch, 1)[0].key == b"s/end"


def test_a_watch_outlives_killing_the_process_it_is_connected_to(
    tmp_path: Path,
) -> None:
    processes = ProcessCluster(tmp_path, builtin_kv=True)
    try:
        for i in (1, 2, 3):
            processes.start(i, initial=True)
        with dengine.Client(processes.endpoints(), timeout=20) as writer:
            writer.put("p/0", "0")
            leader = writer.status().leader_id
            endpoints = [processes.client[leader]] + [
                processes.client[i] for i in (1, 2, 3) if i != leader
            ]
            with (
                dengine.Client(endpoints, timeout=20) as client,
                client.watch(prefix="p/", start_revision=1) as watch,
            ):
                for i in range(1, 5):
                    writer.put(f"p/{i}", str(i))
                before = take(watch, 5)

                processes.kill(leader)  # SIGKILL: the connection just breaks
                wait_until(
                    lambda: writer.status().leader_id not in (0, leader),
                    what="a new leader",
                )
                # Each put is applied once (the client's session makes its
                # retries safe), and none may fail: a stable leader answers.
                for i in range(5, 10):
                    writer.put(f"p/{i}", str(i))
                after = take(watch, 5)
                events = before + after
                assert [(e.key, e.value) for e in events] == [
                    (f"p/{i}".encode(), str(i).encode()) for i in range(10)
                ]
                assert increasing(events)
                writer.put("p/end", "")
                assert take(watch, 1)[0].key == b"p/end"
        processes.stop_all()
    finally:
        processes.kill_all()


def test_no_server_fails_the_start() -> None:
    with dengine.Client(f"127.0.0.1:{free_port()}", timeout=0.5) as client:
        with pytest.raises((dengine.TimeoutError, dengine.IOError)):
            client.watch(prefix=b"")


def test_bad_arguments(served: ServedCluster) -> None:
    with dengine.Client(served.endpoints(1), timeout=10) as client:
        with pytest.raises(TypeError, match="exactly one of .*got none"):
            client.watch()
        with pytest.raises(TypeError, match="got key and prefix"):
            client.watch(key=b"a", prefix=b"a")
        with pytest.raises(ValueError, match="key must not be empty"):
            client.watch(key=b"")
        with pytest.raises(ValueError, match="max_pending must be at least 1"):
            client.watch(prefix=b"", max_pending=0)
        with pytest.raises(ValueError, match="start_revision must be at least 0"):
            client.watch(prefix=b"", start_revision=-1)
