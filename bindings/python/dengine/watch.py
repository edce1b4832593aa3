"""Watches: the changes a node applies, as a stream of events.

``node.watch(prefix=b"jobs/")``, in the node's process, and
``client.watch(prefix=b"jobs/")``, through a :class:`~dengine.Client` of
the servers, return a :class:`Watch`, which yields :class:`Event` objects
in revision order, with no gap and no duplicate
(``docs/state-machine-guide.md``, "Watches"). Iterate it in a thread
(``for``) or in a coroutine (``async for``).

The thread delivering the events (the node's watch thread, or a client
watch's own) never waits for Python: it copies each event into the
watch's queue (``src/watch.h``) and goes on, without taking the GIL. A
thread iterating the watch waits for that queue with the GIL released; a
coroutine's future is resolved on its own loop (by the dengine-events
thread, through ``loop.call_soon_threadsafe``), so the loop never blocks.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Self

from . import _dengine, _events
from .errors import InvalidArgumentError, from_status


class EventType(enum.IntEnum):
    """What an :class:`Event` reports (``DENGINE_EVENT_*``)."""

    PUT = _dengine.EVENT_PUT  #: key set to value; prev_value: its old one, if any
    DELETE = _dengine.EVENT_DELETE  #: key deleted; prev_value: what it held
    EXPIRE = _dengine.EVENT_EXPIRE  #: key's TTL passed; prev_value: what it held
    USER = _dengine.EVENT_USER  #: published by the machine; key: the topic
    MEMBER_ADDED = _dengine.EVENT_MEMBER_ADDED  #: node_id added as a learner
    MEMBER_PROMOTED = _dengine.EVENT_MEMBER_PROMOTED  #: node_id became a voter
    MEMBER_REMOVED = _dengine.EVENT_MEMBER_REMOVED  #: node_id removed
    LEADER = _dengine.EVENT_LEADER  #: node_id leads ``term``


@dataclass(frozen=True)
class Event:
    """One change a node applied. ``revision`` is the log index of the entry
    that made it, the same on every node; the events of one entry share it."""

    type: EventType
    revision: int
    key: bytes  #: KV events: the key; USER: the topic
    value: bytes  #: PUT: the new value; USER: the published bytes
    prev_value: bytes | None  #: PUT, DELETE, EXPIRE: what the key held
    node_id: int  #: membership and leader events (LEADER: 0 before 0.2.0)
    term: int  #: LEADER
    address: str  #: MEMBER_ADDED: its peer address ("" if unknown)


class _Stopped(Exception):
    """The watch was cancelled or closed: iteration stops cleanly."""


class Watch:
    """A running watch, from :meth:`dengine.Node.watch` or
    :meth:`dengine.Client.watch`.

    An iterator (``for event in watch`` blocks the thread, GIL released,
    until the next event) and an async iterator (``async for event in
    watch`` awaits on the running loop), from one thread or task at a time.
    A context manager, sync or async: leaving the block closes it.

    Iteration stops cleanly after :meth:`cancel` or :meth:`close`. A watch
    that ends otherwise raises, once the events it received are taken:
    :class:`~dengine.WatchOverflowError` (it fell ``max_lag`` events behind
    the node, or ``max_pending`` events are waiting to be taken),
    :class:`~dengine.CompactedError` (a snapshot from the leader replaced
    events it still needed), :class:`~dengine.ShuttingDownError` (the node
    stopped, or the client was closed; a server stopping does not end a
    client's watch, which reconnects). The exception's ``next_revision`` is where a new watch
    continues, missing nothing.

    Events wait in this watch's queue until taken; when ``max_pending`` are
    waiting, the next one is not queued, and neither are the queued ones
    of its revision: the watch is cancelled and, after the events before
    that revision, raises ``WatchOverflowError`` with ``next_revision`` that
    revision, so a watch from there misses nothing and repeats nothing. The
    thread delivering the events never waits for Python.
    """

    def __init__(self, handle: _dengine.Watch, source: object) -> None:
        self._handle = handle
        # The Node or Client stays open while it is watched (their __del__
        # would close it, which ends the watch).
        self._source = source

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Event:
        try:
            event = self._take(block=True)
        except _Stopped:
            raise StopIteration from None
        assert event is not None  # a blocking take returns one or raises
        return event

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        loop = asyncio.get_running_loop()
        while True:
            try:
                event = self._take(block=False)
            except _Stopped:
                raise StopAsyncIteration from None
            if event is not None:
                return event
            await self._queued(loop)

    def cancel(self) -> None:
        """Ends the watch: no event comes after those already received,
        which iteration still yields before it stops. Any thread."""
        self._handle.cancel()

    def close(self) -> None:
        """Ends the watch, drops the events not yet taken and frees it;
        iteration stops, also in a thread or task waiting for an event.
        Idempotent; any thread. A watch dropped without it is closed in the
        background."""
        self._handle.close()

    @property
    def next_revision(self) -> int | None:
        """Where a new watch continues once this one ended: every matching
        event below it was taken, none at or above it (one exception: after
        stopping in the middle of a revision's events, a watch from there
        gets those of them you took again). None while the watch runs."""
        return self._handle.next_revision

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.next_revision is None else "ended"
        return f"<dengine.Watch {state}>"

    def _take(self, block: bool) -> Event | None:
        """The next event; None, not blocking, if none is queued yet.
        Raises _Stopped or the end's exception once every event is taken."""
        item = self._handle.next(block)
        if item is not None:
            return Event(EventType(item[0]), *item[1:])
        end = self._handle.end()
        if end is None:
            return None
        status, next_revision, message = end
        if status == _dengine.ERR_CANCELLED:
            raise _Stopped
        error = from_status(status, message)
        error.next_revision = next_revision  # type: ignore[attr-defined]
        raise error

    async def _queued(self, loop: asyncio.AbstractEventLoop) -> None:
        """Returns once an event is queued or the watch ended."""
        future: asyncio.Future[None] = loop.create_future()
        token = _events.register(lambda: _resolve_on(loop, future), once=True)
        try:
            if self._handle.arm(token):
                await future
        finally:
            self._handle.disarm(token)
            _events.unregister(token)


def _resolve_on(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    """On the dengine-events thread: resolves ``future`` on its loop."""
    try:
        loop.call_soon_threadsafe(_resolve, future)
    except RuntimeError:  # the loop is closed: nobody awaits the future
        pass


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled waiter's future is done
        future.set_result(None)


Selector = bytes | bytearray | memoryview | str


def watch_args(
    key: Selector | None,
    prefix: Selector | None,
    topic: Selector | None,
    topic_prefix: Selector | None,
    cluster: bool,
    start_revision: int,
    max_lag: int,
    max_pending: int,
) -> tuple[int, bool, bytes, int, int, int]:
    """The keywords of Node.watch and Client.watch, checked, as the
    extension's watch() takes them: (DENGINE_WATCH_*, is a prefix, bytes,
    start_revision, max_lag, max_pending)."""
    stream, is_prefix, selected = _stream_of(key, prefix, topic, topic_prefix, cluster)
    return (
        stream,
        is_prefix,
        selected,
        _count("start_revision", start_revision),
        _count("max_lag", max_lag),
        _count("max_pending", max_pending, minimum=1),
    )


def _stream_of(
    key: Selector | None,
    prefix: Selector | None,
    topic: Selector | None,
    topic_prefix: Selector | None,
    cluster: bool,
) -> tuple[int, bool, bytes]:
    """watch()'s selector as (DENGINE_WATCH_*, is a prefix, bytes)."""
    if not isinstance(cluster, bool):
        raise TypeError(f"cluster must be a bool, not {type(cluster).__name__}")
    chosen = [
        (name, value)
        for name, value in (
            ("key", key),
            ("prefix", prefix),
            ("topic", topic),
            ("topic_prefix", topic_prefix),
        )
        if value is not None
    ]
    if cluster:
        chosen.append(("cluster", b""))
    if len(chosen) != 1:
        got = " and ".join(name for name, _ in chosen) or "none"
        raise TypeError(
            "watch() takes exactly one of key=, prefix=, topic=, topic_prefix= "
            f"or cluster=True; got {got}"
        )
    name, value = chosen[0]
    if name == "cluster":
        return _dengine.WATCH_CLUSTER, False, b""
    selected = _bytes(name, value)
    if name in ("key", "topic") and not selected:
        raise InvalidArgumentError(
            f"{name} must not be empty (prefix=b'' or topic_prefix=b'' "
            "selects them all)"
        )
    stream = _dengine.WATCH_KV if name in ("key", "prefix") else _dengine.WATCH_TOPIC
    return stream, name.endswith("prefix"), selected


def _count(name: str, value: int, minimum: int = 0) -> int:
    """An integer option of watch(), at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not minimum <= value < 2**63:
        raise InvalidArgumentError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bytes(name: str, value: Selector) -> bytes:
    if isinstance(value, str):
        return value.encode()
    try:
        return bytes(memoryview(value))
    except TypeError:
        raise TypeError(
            f"{name} must be bytes-like or str, not {type(value).__name__}"
        ) from None
