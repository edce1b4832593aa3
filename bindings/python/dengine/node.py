"""dengine.Node: one member of a Raft cluster, running in this process."""

from __future__ import annotations

import atexit
import enum
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeVar, overload

from . import _dengine, _events
from . import config as _config
from .errors import DengineError, InvalidArgumentError, StateMachineError, from_status
from .machine import StateMachine, _Binding
from .metrics import Metrics
from .watch import Watch, watch_args

Bytes = bytes | bytearray | memoryview | str
"""Keys, values, commands and queries: bytes-like, or str (sent as UTF-8)."""

LeaderCallback = Callable[[int, int], None]

_CONSISTENCY = {
    None: _dengine.READ_DEFAULT,
    "default": _dengine.READ_DEFAULT,
    "linearizable": _dengine.READ_LINEARIZABLE,
    "lease": _dengine.READ_LEASE,
    "eventual": _dengine.READ_EVENTUAL,
}


def consistency_code(consistency: str | None) -> int:
    try:
        return _CONSISTENCY[consistency]
    except KeyError:
        raise InvalidArgumentError(
            f"consistency must be linearizable, lease or eventual, got {consistency!r}"
        ) from None


T = TypeVar("T")


class Role(enum.IntEnum):
    FOLLOWER = _dengine.ROLE_FOLLOWER
    PRE_CANDIDATE = _dengine.ROLE_PRE_CANDIDATE
    CANDIDATE = _dengine.ROLE_CANDIDATE
    LEADER = _dengine.ROLE_LEADER


@dataclass(frozen=True)
class Result:
    """The outcome of an applied proposal: the machine's result for it."""

    status: int  #: the status the machine set (0 or application-defined)
    data: bytes  #: the result bytes the machine set
    index: int  #: the entry's log index
    duplicate: bool = False  #: a session write applied before


@dataclass(frozen=True)
class Member:
    id: int
    voter: bool  #: False: a learner
    address: str  #: its peer address, "" when unknown


@dataclass(frozen=True)
class Status:
    """A consistent picture of a node (or, from a Client, of the server)."""

    id: int
    role: Role
    term: int
    leader_id: int  #: 0: none known
    leader_address: str
    commit_index: int
    applied_index: int
    last_log_index: int
    snapshot_index: int
    fatal_status: int  #: non-zero: the node stopped serving on this error
    members: list[Member] = field(default_factory=list)

    @property
    def is_leader(self) -> bool:
        return self.role == Role.LEADER

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Status:
        members = [Member(i, v, a) for i, v, a in d.pop("members")]
        return cls(role=Role(d.pop("role")), members=members, **d)


@dataclass(frozen=True)
class ScanResult:
    """Up to ``limit`` (key, value) pairs in key order; ``more``: further
    keys matched; ``revision``: the revision the answer reflects (from a
    Node; 0 from a Client), so a watch from ``revision + 1`` continues from
    exactly that state."""

    items: list[tuple[bytes, bytes]]
    more: bool
    revision: int = 0

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _result(reply: Any) -> Result:
    return Result(reply.result, reply.data, reply.index, reply.duplicate)


def timeout_ms(timeout: float | None, default: float) -> int:
    seconds = default if timeout is None else timeout
    if not seconds > 0:
        raise InvalidArgumentError(f"timeout must be positive, got {timeout!r}")
    return min(max(int(seconds * 1000), 1), 2**32 - 1)


# Nodes still open, closed at interpreter exit: their threads call into
# Python, which must not happen once the interpreter is finalizing.
_open_nodes: weakref.WeakSet[Node] = weakref.WeakSet()


@atexit.register
def _close_open_nodes() -> None:
    for node in list(_open_nodes):
        node.close()


def _call_weak(method: weakref.WeakMethod[Any], *args: Any) -> None:
    bound = method()
    if bound is not None:
        bound(*args)


class Node:
    """One member of a Raft cluster, running in this process.

    ``Node(machine, id=1, data_dir="...", peer_address="127.0.0.1:7001",
    peers={2: "127.0.0.1:7002", 3: "127.0.0.1:7003"}, initial_voters=[1, 2,
    3])`` starts a node at once; ``Node(machine, config="node1.toml")``
    reads the dengined TOML file of ``docs/operations.md`` through the
    library (keyword options override it; its ``[log] level`` is left
    alone). With ``machine=None`` the node runs the built-in RocksDB
    key-value machine and the KV helpers (:meth:`put`, :meth:`get`...) work.

    Options: ``id`` and ``data_dir`` (required), ``cluster_id``,
    ``peer_address`` (default 127.0.0.1:0), ``client_address`` (serve
    :class:`dengine.Client`), ``peers`` ({id: address}, or a list of
    {id, address, client_address}), ``initial_voters`` (a new cluster's
    voters; leave out on a node that joins), ``log_backend`` ("wal",
    "rocksdb"), ``kv_backend`` ("rocksdb", "file"), ``tick_ms``,
    ``election_ticks``, ``heartbeat_ticks``, ``default_read``
    ("linearizable", "lease", "eventual"), ``snapshot_entries``,
    ``snapshot_bytes``, ``max_entry_bytes`` (sizes: int or "64MiB"),
    ``snapshots_kept``, ``watch_history_events`` and ``watch_history_bytes``
    (a size; the recent events kept for watches that start in the past),
    ``tls_cert_file``, ``tls_key_file``, ``tls_ca_file`` (TLS for peers and
    clients: all three or none), ``tls_min_version`` ("1.3", "1.2"),
    ``tls_require_client_cert`` (bool) and ``tls_admin_identities`` (the
    client certificate names allowed admin calls); see docs/operations.md
    "TLS" and :meth:`reload_tls`. ``log_level`` (the "dengine" logger's).
    ``timeout`` (seconds, default 5) is the default deadline of every call;
    ``on_leader_change(leader_id, term)`` is called on each change of leader
    or term.

    Every method is thread-safe and blocking ones release the GIL. A node is
    a context manager: leaving the block closes it, which ends its watches
    (ShuttingDownError). The machine object is kept alive until then.
    """

    def __init__(
        self,
        machine: StateMachine | None = None,
        *,
        config: str | os.PathLike[str] | None = None,
        timeout: float = 5.0,
        on_leader_change: LeaderCallback | None = None,
        **options: Any,
    ) -> None:
        self._handle: _dengine.Node | None = None
        self._leader_token: int | None = None
        timeout_ms(timeout, timeout)
        self.timeout = timeout
        self.id: int = options.get("id", 0)
        self._binding = _Binding(machine) if machine is not None else None
        self._leader = threading.Condition()
        self._on_leader_change = on_leader_change
        built = _config.build(options, file=config)
        self.id = built.node_id
        try:
            self._handle = _dengine.Node(
                built, self._binding.adapter if self._binding else None
            )
        except StateMachineError as e:
            self._with_cause(e)
            raise
        _open_nodes.add(self)
        # A weak reference: the event thread must not keep an unclosed node
        # alive (dropping it closes it).
        changed = weakref.WeakMethod(self._leader_changed)
        self._leader_token = _events.register(
            lambda leader_id, term: _call_weak(changed, leader_id, term), once=False
        )
        self._handle.set_leader_token(self._leader_token)

    # ----- lifecycle -----

    def stop(self) -> None:
        """Stops serving (pending requests fail with ShuttingDownError),
        makes everything durable and stops the machine. Raises the error
        that stopped the node, if one did (e.g. StateMachineError)."""
        self._call(lambda h: h.stop())

    def close(self) -> None:
        """Stops (if needed) and frees the node. Idempotent; never raises:
        call :meth:`stop` first to learn of a fatal error."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()
        if self._leader_token is not None:
            _events.unregister(self._leader_token)
            self._leader_token = None
        _open_nodes.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def machine(self) -> StateMachine | None:
        return self._binding.machine if self._binding else None  # type: ignore[return-value]

    # ----- proposals and reads -----

    def propose(self, data: Bytes, *, timeout: float | None = None) -> Result:
        """Replicates ``data`` (a command for the machine) and returns once it
        is applied, with the machine's result. Raises NotLeaderError on a
        follower (with the leader's id and address), TimeoutError (the
        outcome is then unknown), StateMachineError if apply failed."""
        ms = timeout_ms(timeout, self.timeout)
        return _result(self._call(lambda h: h.propose(data, ms)))

    def propose_async(
        self, data: Bytes, *, timeout: float | None = None
    ) -> Future[Result]:
        """As :meth:`propose`, without waiting: the future resolves with the
        Result or the exception. ``asyncio.wrap_future`` makes it awaitable."""
        ms = timeout_ms(timeout, self.timeout)
        return self._async(lambda h, token: h.propose_async(data, ms, token), _result)

    def read(
        self,
        query: Bytes = b"",
        *,
        consistency: str | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Asks the machine's ``read`` with ``query`` once the consistency
        level holds: "linearizable" (a quorum round; the default unless
        configured), "lease" (the leader's lease) or "eventual" (this node's
        state, maybe stale). Followers forward linearizable reads."""
        code = consistency_code(consistency)
        ms = timeout_ms(timeout, self.timeout)
        return self._call(lambda h: h.read(query, code, ms)).data

    def read_async(
        self,
        query: Bytes = b"",
        *,
        consistency: str | None = None,
        timeout: float | None = None,
    ) -> Future[bytes]:
        code = consistency_code(consistency)
        ms = timeout_ms(timeout, self.timeout)
        return self._async(
            lambda h, token: h.read_async(query, code, ms, token), lambda r: r.data
        )

    # ----- the built-in KV machine -----

    def put(self, key: Bytes, value: Bytes, *, timeout: float | None = None) -> None:
        ms = timeout_ms(timeout, self.timeout)
        self._call(lambda h: h.put(key, value, ms))

    def put_ttl(
        self, key: Bytes, value: Bytes, ttl: float, *, timeout: float | None = None
    ) -> None:
        """Puts a key that expires ``ttl`` seconds after the leader's clock
        at proposal (decided by the replicated log, identically everywhere)."""
        ttl_ms = max(int(ttl * 1000), 0)  # 0 is refused as invalid
        ms = timeout_ms(timeout, self.timeout)
        self._call(lambda h: h.put_ttl(key, value, ttl_ms, ms))

    def delete(self, key: Bytes, *, timeout: float | None = None) -> bool:
        """Deletes ``key``; True if it existed."""
        ms = timeout_ms(timeout, self.timeout)
        return self._call(lambda h: h.delete(key, ms))

    def cas(
        self,
        key: Bytes,
        expected: Bytes | None,
        value: Bytes,
        *,
        timeout: float | None = None,
    ) -> bool:
        """Sets ``key`` to ``value`` if it holds ``expected`` (None: if it is
        absent); True if it did."""
        ms = timeout_ms(timeout, self.timeout)
        return self._call(lambda h: h.cas(key, expected, value, ms))

    @overload
    def get(
        self,
        key: Bytes,
        *,
        consistency: str | None = None,
        timeout: float | None = None,
        with_revision: Literal[False] = False,
    ) -> bytes | None: ...

    @overload
    def get(
        self,
        key: Bytes,
        *,
        consistency: str | None = None,
        timeout: float | None = None,
        with_revision: Literal[True],
    ) -> tuple[bytes | None, int]: ...

    def get(
        self,
        key: Bytes,
        *,
        consistency: str | None = None,
        timeout: float | None = None,
        with_revision: bool = False,
    ) -> bytes | None | tuple[bytes | None, int]:
        """The value of ``key``, or None if it is absent. ``with_revision``:
        ``(value, revision)``, the revision the answer reflects (the last
        entry applied in its view), so a watch from ``revision + 1``
        continues from exactly that state."""
        code = consistency_code(consistency)
        ms = timeout_ms(timeout, self.timeout)
        if with_revision:
            return self._call(lambda h: h.get_with_revision(key, code, ms))
        return self._call(lambda h: h.get(key, code, ms))

    def get_multi(
        self,
        keys: Sequence[Bytes],
        *,
        consistency: str | None = None,
        timeout: float | None = None,
    ) -> list[bytes | None]:
        """The values of ``keys`` (None where absent) from one consistent view."""
        code = consistency_code(consistency)
        ms = timeout_ms(timeout, self.timeout)
        return self._call(lambda h: h.get_multi(list(keys), code, ms))

    def scan_prefix(
        self,
        prefix: Bytes = b"",
        *,
        limit: int = 1000,
        consistency: str | None = None,
        timeout: float | None = None,
    ) -> ScanResult:
        """Up to ``limit`` keys starting with ``prefix``, in byte order, and
        the revision they reflect."""
        code = consistency_code(consistency)
        ms = timeout_ms(timeout, self.timeout)
        items, more, revision = self._call(
            lambda h: h.scan_prefix(prefix, limit, code, ms)
        )
        return ScanResult(items, more, revision)

    # ----- watches -----

    def watch(
        self,
        *,
        key: Bytes | None = None,
        prefix: Bytes | None = None,
        topic: Bytes | None = None,
        topic_prefix: Bytes | None = None,
        cluster: bool = False,
        start_revision: int = 0,
        max_lag: int = 0,
        max_pending: int = 10000,
    ) -> Watch:
        """Watches what this node applies; returns a :class:`Watch` to
        iterate (``for`` or ``async for``) over :class:`~dengine.Event`.

        Exactly one selector: ``key`` or ``prefix`` (PUT, DELETE and EXPIRE
        of the built-in KV machine; ``prefix=b""``: every key), ``topic`` or
        ``topic_prefix`` (USER events an application machine publishes),
        ``cluster=True`` (membership changes and new leaders).

        ``start_revision``: 0 (the default) for the events after what the
        node has applied; else every matching event from that revision on,
        the past ones first (CompactedError if it is older than the
        history kept: see :meth:`watch_range`). ``max_lag``: how many events
        (of any kind) the watch may fall behind the node before it ends
        with WatchOverflowError (0: 10,000). ``max_pending``: how many
        events received may wait to be taken before it ends the same way
        (see :class:`~dengine.Watch`); either way nothing is lost: resume
        from the error's ``next_revision``. Any node serves watches, a
        follower from what it has applied.
        """
        args = watch_args(
            key,
            prefix,
            topic,
            topic_prefix,
            cluster,
            start_revision,
            max_lag,
            max_pending,
        )
        return Watch(self._call(lambda h: h.watch(*args)), self)

    def watch_range(self) -> tuple[int, int]:
        """``(oldest, next)``: a watch may start at any revision from
        ``oldest`` (the oldest kept; older raise CompactedError), and one
        from ``next`` (the revision after everything applied) sees only
        what comes next."""
        return self._call(lambda h: h.watch_range())

    # ----- cluster -----

    def status(self) -> Status:
        return Status._from_dict(self._call(lambda h: h.status()))

    def metrics(self) -> Metrics:
        """A snapshot of what this node counts: its role, term and indexes,
        replication per peer (on the leader), proposals by status, fsync,
        commit, apply and snapshot timings, elections, traffic, clients and
        watches. Does not wait for the node's loop, and works on a stopped
        node too (the values as of the stop). See :class:`Metrics`."""
        return Metrics._from_native(self._call(lambda h: h.metrics()))

    def reload_tls(self) -> None:
        """Certificate rotation: reads the node's TLS files again (the same
        paths: replace the files first) and uses them for every connection
        opened from now on; open ones keep theirs. A bad file changes
        nothing and raises InvalidArgumentError naming it; UnsupportedError
        when the node was started without TLS."""
        self._call(lambda h: h.reload_tls())

    @property
    def on_leader_change(self) -> LeaderCallback | None:
        """Called as ``fn(leader_id, term)`` (leader 0: none known) on each
        change, from the dengine-events thread. Assign None to stop."""
        return self._on_leader_change

    @on_leader_change.setter
    def on_leader_change(self, fn: LeaderCallback | None) -> None:
        self._on_leader_change = fn

    def wait_for_leader(self, timeout: float = 10.0) -> int:
        """Waits until this node knows a leader; returns its id. Raises
        TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._leader:
            while True:
                leader = self.status().leader_id
                if leader:
                    return leader
                left = deadline - time.monotonic()
                if left <= 0:
                    raise from_status(
                        _dengine.ERR_TIMEOUT, f"no leader after {timeout} s"
                    )
                # Leader changes notify; the status is checked again anyway
                # (the change may have come before this wait started).
                self._leader.wait(min(left, 0.05))

    def add_learner(
        self, id: int, address: str, *, timeout: float | None = None
    ) -> None:
        """Adds node ``id`` (listening at ``address``) as a learner: it
        receives the log but does not vote. Leader only."""
        ms = timeout_ms(timeout, self.timeout)
        self._call(lambda h: h.add_learner(id, address, ms))

    def promote(self, id: int, *, timeout: float | None = None) -> None:
        """Makes learner ``id`` a voter once it has caught up (BusyError
        until then)."""
        ms = timeout_ms(timeout, self.timeout)
        self._call(lambda h: h.promote(id, ms))

    def remove(self, id: int, *, timeout: float | None = None) -> None:
        """Removes member ``id`` (the leader itself steps down)."""
        ms = timeout_ms(timeout, self.timeout)
        self._call(lambda h: h.remove(id, ms))

    def transfer_leadership(self, to: int = 0, *, timeout: float | None = None) -> None:
        """Hands leadership to ``to`` (0: the most caught-up voter) and
        returns once it leads."""
        ms = timeout_ms(timeout, self.timeout)
        self._call(lambda h: h.transfer_leadership(to, ms))

    def snapshot(self, *, timeout: float | None = None) -> int:
        """Takes a snapshot now and compacts the log; returns its last index."""
        ms = timeout_ms(timeout, self.timeout)
        return self._call(lambda h: h.snapshot(ms))

    # ----- internals -----

    def _call(self, fn: Callable[[_dengine.Node], T]) -> T:
        handle = self._handle
        if handle is None:
            raise from_status(
                _dengine.ERR_SHUTTING_DOWN, "shutting down: the node is closed"
            )
        try:
            return fn(handle)
        except StateMachineError as e:
            self._with_cause(e)
            raise

    def _async(
        self, start: Callable[[Any, int], None], convert: Callable[[Any], Any]
    ) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()  # cannot be cancelled once sent

        def done(status: int, reply: Any) -> None:
            if status == _dengine.OK:
                future.set_result(convert(reply))
                return
            message = (
                f"{_dengine.strerror(status)}: {reply.message}" if reply.message else ""
            )
            error = from_status(status, message, reply.leader_id, reply.leader_address)
            if isinstance(error, StateMachineError):
                error = self._with_cause(error)
            future.set_exception(error)

        token = _events.register(done, once=True)
        try:
            self._call(lambda h: start(h, token))
        except BaseException:
            _events.unregister(token)
            raise
        return future

    def _with_cause(self, error: DengineError) -> DengineError:
        failure = self._binding.failure if self._binding else None
        if failure is not None and error.__cause__ is None:
            error.__cause__ = failure
        return error

    def _leader_changed(self, leader_id: int, term: int) -> None:
        with self._leader:
            self._leader.notify_all()
        callback = self._on_leader_change
        if callback is not None:
            callback(leader_id, term)

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else "open"
        return f"<dengine.Node id={self.id} {state}>"

    def __del__(self) -> None:
        self.close()
