"""Node.watch: the events a node applies, in a thread and in asyncio;
resuming after an overflow or a compacted start; machines publishing
topics; and how a watch ends."""

from __future__ import annotations

import asyncio
import gc
import itertools
import signal
import threading
from pathlib import Path

import pytest
from conftest import FAST, wait_until
from machines import KVMachine

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


class Announcer(KVMachine):
    """KVMachine publishing each new value on the topic "keys/<key>"."""

    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        results = super().apply(entries)
        out: list[dengine.ApplyResult] = []
        for entry, result in zip(entries, results):
            if isinstance(result, bytes) and entry.data.startswith(b"set "):
                _, key, value = entry.data.split(b" ", 2)
                result = (0, result, [(b"keys/" + key, value)])
            out.append(result)
        return out


class Burst(KVMachine):
    """KVMachine publishing three events on the topic "burst" per set."""

    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        results = super().apply(entries)
        out: list[dengine.ApplyResult] = []
        for entry, result in zip(entries, results):
            if isinstance(result, bytes) and entry.data.startswith(b"set "):
                value = entry.data.split(b" ", 2)[2]
                burst = [("burst", value + b"-%d" % j) for j in range(3)]
                result = (0, result, burst)
            out.append(result)
        return out


class EmptyTopic(KVMachine):
    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        return [(0, None, [("", b"x")]) for _ in super().apply(entries)]


def test_a_prefix_watch_sees_puts_and_deletes_in_order(kv_node: dengine.Node) -> None:
    with kv_node.watch(prefix=b"jobs/") as jobs, kv_node.watch(key="jobs/2") as two:
        assert jobs.next_revision is None  # running
        kv_node.put("jobs/1", "a")
        kv_node.put("other", "x")
        kv_node.put("jobs/1", "b")
        kv_node.put("jobs/2", "c")
        kv_node.delete("jobs/1")
        events = take(jobs, 4)
        assert [(e.type, e.key, e.value, e.prev_value) for e in events] == [
            (EventType.PUT, b"jobs/1", b"a", None),
            (EventType.PUT, b"jobs/1", b"b", b"a"),
            (EventType.PUT, b"jobs/2", b"c", None),
            (EventType.DELETE, b"jobs/1", b"", b"b"),
        ]
        revisions = [e.revision for e in events]
        assert revisions == sorted(set(revisions))
        assert take(two, 1)[0] == events[2]
    assert jobs.next_revision == revisions[-1] + 1
    with pytest.raises(AttributeError):
        events[0].key = b"x"  # type: ignore[misc]  # frozen


def test_a_watch_from_a_past_revision_replays_then_follows(
    kv_node: dengine.Node,
) -> None:
    kv_node.put("r/1", "a")
    _, first = kv_node.get("r/1", with_revision=True)
    kv_node.put("r/2", "b")
    kv_node.put("r/1", "c")
    value, now = kv_node.get("r/1", with_revision=True)
    assert value == b"c" and now > first
    assert kv_node.get("r/missing", with_revision=True) == (None, now)
    assert kv_node.scan_prefix("r/").revision == now

    with kv_node.watch(prefix="r/", start_revision=first) as replay:
        past = take(replay, 3)
        assert [(e.key, e.value) for e in past] == [
            (b"r/1", b"a"),
            (b"r/2", b"b"),
            (b"r/1", b"c"),
        ]
        assert past[0].revision == first and past[-1].revision == now
        # Read, then watch from the revision after the read: nothing missed.
        with kv_node.watch(key="r/1", start_revision=now + 1) as after_read:
            kv_node.put("r/1", "d")
            (live,) = take(after_read, 1)
            assert (live.value, live.prev_value) == (b"d", value)
            assert take(replay, 1) == [live]


def test_a_start_older_than_the_history_raises_compacted(tmp_path: Path) -> None:
    with dengine.Node(
        id=1,
        data_dir=tmp_path,
        initial_voters=[1],
        watch_history_events=5,
        **FAST,
    ) as node:
        node.wait_for_leader()
        for i in range(20):
            node.put(f"k{i}", str(i))
        oldest, next_revision = node.watch_range()
        assert 1 < oldest < next_revision
        with pytest.raises(dengine.CompactedError, match=rf"\b{oldest}\b") as info:
            node.watch(prefix=b"", start_revision=1)  # the message names the oldest
        assert info.value.next_revision is None  # nothing was received
        with node.watch(prefix=b"", start_revision=oldest) as watch:
            assert take(watch, 1)[0].revision == oldest


def test_a_cluster_watch_sees_the_leader(kv_node: dengine.Node) -> None:
    with kv_node.watch(cluster=True, start_revision=1) as watch:
        added, promoted, leader = take(watch, 3)
    assert (added.type, added.node_id) == (EventType.MEMBER_ADDED, 1)
    assert (promoted.type, promoted.node_id) == (EventType.MEMBER_PROMOTED, 1)
    assert (leader.type, leader.node_id) == (EventType.LEADER, 1)
    assert leader.term == kv_node.status().term
    assert added.revision <= promoted.revision < leader.revision


def test_a_python_machine_publishes_on_topics(tmp_path: Path) -> None:
    with dengine.Node(
        Announcer(tmp_path / "machine"),
        id=1,
        data_dir=tmp_path / "node",
        initial_voters=[1],
        **FAST,
    ) as node:
        node.wait_for_leader()
        with node.watch(topic_prefix="keys/") as keys, node.watch(topic=b"keys/b") as b:
            a_index = node.propose(b"set a 1").index
            b_result = node.propose(b"set b 2")
            assert b_result.data == b""  # the result is still the proposer's
            events = take(keys, 2)
            assert [(e.type, e.key, e.value, e.revision) for e in events] == [
                (EventType.USER, b"keys/a", b"1", a_index),
                (EventType.USER, b"keys/b", b"2", b_result.index),
            ]
            assert take(b, 1) == events[1:]


def test_an_empty_topic_fails_the_apply(tmp_path: Path) -> None:
    with dengine.Node(
        EmptyTopic(tmp_path / "machine"),
        id=1,
        data_dir=tmp_path / "node",
        initial_voters=[1],
        **FAST,
    ) as node:
        node.wait_for_leader()
        with pytest.raises(dengine.StateMachineError) as info:
            node.propose(b"set a 1")
        assert isinstance(info.value.__cause__, ValueError)
        assert "topic must not be empty" in str(info.value.__cause__)


def test_async_for_and_cancelling_the_waiting_task(kv_node: dengine.Node) -> None:
    async def main() -> tuple[list[dengine.Event], dengine.Watch]:
        watch = kv_node.watch(prefix=b"a/")
        received: list[dengine.Event] = []
        two = asyncio.Event()

        async def consume() -> None:
            async with watch:
                async for event in watch:
                    received.append(event)
                    if len(received) == 2:
                        two.set()

        task = asyncio.create_task(consume())
        # Blocking calls off the loop: the consumer awaits meanwhile.
        await asyncio.to_thread(kv_node.put, "a/1", "x")
        await asyncio.to_thread(kv_node.put, "a/2", "y")
        await asyncio.wait_for(two.wait(), TIMEOUT)
        task.cancel()  # it awaits the third event
        with pytest.raises(asyncio.CancelledError):
            await task
        return received, watch

    received, watch = asyncio.run(main())
    assert [e.key for e in received] == [b"a/1", b"a/2"]
    assert watch.next_revision == received[-1].revision + 1  # closed on exit

    async def replay_then_cancel() -> list[dengine.Event]:
        with kv_node.watch(prefix=b"a/", start_revision=received[0].revision) as w:
            replayed = [await anext(w), await anext(w)]
            w.cancel()
            assert [event async for event in w] == []  # stops cleanly
            return replayed

    assert asyncio.run(replay_then_cancel()) == received


def test_a_consumer_that_does_not_read_overflows_and_resumes(
    kv_node: dengine.Node,
) -> None:
    watch = kv_node.watch(prefix=b"o/", max_pending=3)
    for i in range(6):
        kv_node.put(f"o/{i}", str(i))
    wait_until(lambda: watch.next_revision is not None, what="the overflow")
    received: list[dengine.Event] = []
    with pytest.raises(dengine.WatchOverflowError, match="max_pending=3") as info:
        for event in watch:
            received.append(event)
    assert [e.key for e in received] == [b"o/0", b"o/1", b"o/2"]
    resume = info.value.next_revision
    assert resume is not None and resume == watch.next_revision
    with kv_node.watch(prefix=b"o/", start_revision=resume) as resumed:
        missed = take(resumed, 3)
    assert [e.key for e in missed] == [b"o/3", b"o/4", b"o/5"]
    assert missed[0].revision == resume


def test_an_overflow_keeps_the_revision_it_reached_whole(tmp_path: Path) -> None:
    with dengine.Node(
        Burst(tmp_path / "machine"),
        id=1,
        data_dir=tmp_path / "node",
        initial_voters=[1],
        **FAST,
    ) as node:
        node.wait_for_leader()
        watch = node.watch(topic="burst", max_pending=4)
        node.propose(b"set a 1")
        second = node.propose(b"set b 2").index
        wait_until(lambda: watch.next_revision is not None, what="the overflow")
        # b's first event fit in the queue, its second did not: all of b's
        # are left for the watch that resumes.
        received: list[dengine.Event] = []
        with pytest.raises(dengine.WatchOverflowError) as info:
            received.extend(watch)
        assert [e.value for e in received] == [b"1-0", b"1-1", b"1-2"]
        assert info.value.next_revision == second
        with node.watch(topic="burst", start_revision=second) as resumed:
            assert [e.value for e in take(resumed, 3)] == [b"2-0", b"2-1", b"2-2"]


def test_a_signal_interrupts_a_blocked_iteration(kv_node: dengine.Node) -> None:
    class Interrupted(Exception):
        pass

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with kv_node.watch(prefix=b"never/") as watch:
            with pytest.raises(Interrupted):
                threading.Timer(0.1, signal.raise_signal, [signal.SIGUSR1]).start()
                for _ in watch:
                    pass
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_closing_the_node_ends_iteration_with_shutting_down(tmp_path: Path) -> None:
    node = dengine.Node(id=1, data_dir=tmp_path, initial_voters=[1], **FAST)
    node.wait_for_leader()
    watch = node.watch(prefix=b"")
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
    node.put("k", "v")
    wait_until(lambda: received, what="the first event")
    node.close()
    consumer.join(TIMEOUT)
    assert not consumer.is_alive()
    (error,) = ended
    assert isinstance(error, dengine.ShuttingDownError)
    assert error.next_revision == received[-1].revision + 1
    with pytest.raises(dengine.ShuttingDownError):
        next(watch)  # stays ended
    watch.close()
    with pytest.raises(StopIteration):
        next(watch)  # closed by the user: stops cleanly
    with pytest.raises(dengine.ShuttingDownError):
        node.watch(prefix=b"")


@pytest.mark.parametrize("end", ["close", "cancel"])
def test_ending_from_another_thread_wakes_a_blocked_iterator(
    kv_node: dengine.Node, end: str
) -> None:
    watch = kv_node.watch(prefix=b"w/")
    received: list[dengine.Event] = []
    outcome: list[str] = []

    def consume() -> None:
        for event in watch:
            received.append(event)
        outcome.append("stopped")

    consumer = threading.Thread(target=consume)
    consumer.start()
    kv_node.put("w/1", "x")
    wait_until(lambda: received, what="the first event")
    getattr(watch, end)()  # the consumer is (or soon will be) waiting
    consumer.join(TIMEOUT)
    assert not consumer.is_alive() and outcome == ["stopped"]
    assert watch.next_revision == received[0].revision + 1
    watch.close()
    watch.close()  # idempotent


def test_a_dropped_watch_is_closed_without_waiting(kv_node: dengine.Node) -> None:
    for _ in range(10):
        watch = kv_node.watch(prefix=b"")
        kv_node.put("d", "x")
        del watch
        gc.collect()
    with kv_node.watch(prefix=b"") as watch:
        kv_node.put("d", "y")
        assert take(watch, 1)[0].value == b"y"


def test_bad_arguments(kv_node: dengine.Node) -> None:
    with pytest.raises(TypeError, match="exactly one of .*got none"):
        kv_node.watch()
    with pytest.raises(TypeError, match="got key and prefix"):
        kv_node.watch(key=b"a", prefix=b"a")
    with pytest.raises(TypeError, match="got topic and cluster"):
        kv_node.watch(topic=b"t", cluster=True)
    with pytest.raises(TypeError, match="key must be bytes-like or str, not int"):
        kv_node.watch(key=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key must not be empty"):
        kv_node.watch(key=b"")
    with pytest.raises(ValueError, match="max_pending must be at least 1"):
        kv_node.watch(prefix=b"", max_pending=0)
    with pytest.raises(ValueError, match="start_revision must be at least 0"):
        kv_node.watch(prefix=b"", start_revision=-1)
    with pytest.raises(TypeError, match="max_lag must be an int"):
        kv_node.watch(prefix=b"", max_lag=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="positional"):
        kv_node.watch(b"a")  # type: ignore[misc]
    oldest, next_revision = kv_node.watch_range()
    assert 1 <= oldest <= next_revision
