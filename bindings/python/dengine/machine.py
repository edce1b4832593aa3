"""The replicated state machine: subclass :class:`StateMachine`.

dengine replicates commands (bytes) with Raft and, once committed, hands them
to every replica's machine in the same order: the same commands applied in
the same order give the same state everywhere. The methods below map onto
the C vtable ``dengine_state_machine`` (``include/dengine.h``); the rules of
``docs/state-machine-guide.md`` apply unchanged.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Sequence
from typing import NamedTuple

from . import _dengine

logger = logging.getLogger("dengine")


class EntryKind(enum.IntEnum):
    """What a log entry holds."""

    NORMAL = _dengine.ENTRY_NORMAL  #: an application command
    NOOP = _dengine.ENTRY_NOOP  #: appended by a new leader; no data
    MEMBERSHIP = _dengine.ENTRY_MEMBERSHIP  #: a membership change


class Entry(NamedTuple):
    """A committed log entry, as ``apply`` receives it."""

    index: int  # type: ignore[assignment]  # the Raft name; hides tuple.index
    term: int
    kind: int  #: an :class:`EntryKind` value
    data: bytes


class SnapshotMeta(NamedTuple):
    """What ``restore`` receives with a snapshot's directory."""

    last_index: int  #: the snapshot covers entries up to here
    last_term: int
    sha256: bytes  #: already verified by dengine


#: An event a machine publishes for watchers of its topic: ``(topic, data)``,
#: the topic non-empty bytes-like or str (UTF-8), the data bytes-like.
PublishedEvent = tuple[bytes | str, bytes | bytearray | memoryview]

#: One entry's result: bytes (status 0), ``(status, bytes)``, None (status
#: 0, no bytes), or ``(status, bytes or None, events)`` to publish events
#: for the entry too (see :meth:`StateMachine.apply`). The proposer
#: receives the status and bytes.
ApplyResult = (
    bytes
    | bytearray
    | memoryview
    | tuple[int, bytes | None]
    | tuple[int, bytes | None, Sequence[PublishedEvent]]
    | None
)


class StateMachine:
    """Base class of a replicated state machine written in Python.

    Required: :meth:`apply`, :meth:`snapshot` and :meth:`restore`. Every
    other method is optional: leave it out and dengine uses the default
    documented beside it.

    Threads. ``apply``, ``snapshot``, ``restore``, ``reset`` and ``flush`` run
    on the node's apply thread, one at a time. ``read``, ``last_applied`` and
    ``__len__`` may run on other threads at the same time (they hold the GIL
    while they run, but apply may be between two steps): guard shared state
    with a lock, or replace it in one assignment. Callbacks must not call the
    node's own methods.

    A callback that raises makes the call fail: a failed ``apply`` stops the
    node with :class:`~dengine.StateMachineError` rather than let replicas
    diverge, and the traceback goes to the ``dengine`` logger. Raise a
    :class:`~dengine.DengineError` subclass to report its code instead of
    DENGINE_ERR_STATE_MACHINE (e.g. ``CorruptionError`` from ``restore``).
    """

    def start(self) -> None:
        """Called once when the node starts, before any other callback: open
        files, recover state. Optional."""

    def stop(self) -> None:
        """Called once when the node stops, after every other callback;
        everything applied must be durable when it returns. Optional."""

    def apply(self, entries: list[Entry]) -> Sequence[ApplyResult]:
        """Applies committed entries, in index order with no gaps, and
        returns exactly one result per entry.

        All or nothing: either every entry takes effect, durable (once
        flushed) together with ``last_applied = entries[-1].index``, or the
        method raises and none does (the node then stops). After a crash a
        chunk may be delivered again: skip entries at or below what you have
        durably applied. No-op and membership entries carry no command but
        still advance ``last_applied``. Required.

        Publishing events: return ``(status, data, events)`` for an entry,
        ``events`` a list of ``(topic, data)`` pairs, and each is published
        to the watchers of its topic (``Node.watch(topic=...)``, on every
        node) at the entry's revision, its log index, in list order. Like
        the state, events are the machine's deterministic output: publish
        the same for the same entry on every replica, and none for a
        re-delivered entry you skip::

            results.append((0, b"ok", [("jobs/done", job_id)]))
        """
        raise NotImplementedError("StateMachine.apply is required")

    def read(self, query: bytes) -> bytes:
        """Answers a read from the applied state; dengine has already waited
        for the read's consistency level. Optional: without it reads fail
        with :class:`~dengine.UnsupportedError`."""
        raise NotImplementedError

    def last_applied(self) -> int:
        """The highest index whose effects the machine holds durably. Lets
        dengine replay only later entries after a restart. Optional: without
        it every entry since the last snapshot is replayed after
        :meth:`reset`. Must not raise (a failure is logged and read as 0)."""
        raise NotImplementedError

    def snapshot(self, dir: str, last_index: int) -> None:
        """Writes the whole state, as of ``last_index`` (the last applied
        entry), as files into the existing empty directory ``dir``. Later
        applies must not change those files. Required."""
        raise NotImplementedError("StateMachine.snapshot is required")

    def restore(self, dir: str, meta: SnapshotMeta) -> None:
        """Atomically replaces all state with the snapshot in ``dir``
        (written by :meth:`snapshot` on some node; its SHA-256 already
        verified). Afterwards ``last_applied()`` is ``meta.last_index``.
        Required."""
        raise NotImplementedError("StateMachine.restore is required")

    def flush(self) -> None:
        """Makes everything applied so far durable. Optional: without it
        ``apply`` must be durable when it returns."""

    def reset(self) -> None:
        """Clears everything back to empty (``last_applied`` becomes 0).
        Optional, but needed by a machine without ``last_applied``."""
        raise NotImplementedError


# Optional methods the vtable leaves NULL unless the machine defines them.
_OPTIONAL = ("start", "stop", "read", "last_applied", "flush", "reset")
_REQUIRED = ("apply", "snapshot", "restore")


def _defines(machine: object, name: str) -> bool:
    own = getattr(type(machine), name, None)
    return own is not None and own is not getattr(StateMachine, name, None)


class _Binding:
    """A machine bound to the C vtable, with what its callbacks raised."""

    def __init__(self, machine: object) -> None:
        missing = [name for name in _REQUIRED if not _defines(machine, name)]
        if missing:
            raise TypeError(
                f"{type(machine).__name__} must define {', '.join(missing)}"
            )
        implemented = {name for name in _OPTIONAL if _defines(machine, name)}
        if getattr(type(machine), "__len__", None) is not None:
            implemented.add("len")
        self.machine = machine
        self.failures = _Failures(type(machine).__name__)
        self.adapter = _dengine.Machine(
            machine, implemented, Entry, SnapshotMeta, self.failures
        )

    @property
    def failure(self) -> BaseException | None:
        """The first exception of a callback other than read."""
        return self.failures.first


class _Failures:
    """Receives the exceptions of a machine's callbacks (from the adapter,
    GIL held): logs each with its traceback, keeps the first, and returns
    the status dengine gets. Holds no reference to the adapter, so the two
    never form a cycle the garbage collector cannot see through."""

    def __init__(self, machine_name: str) -> None:
        self._name = machine_name
        self._lock = threading.Lock()
        self.first: BaseException | None = None

    def __call__(self, callback: str, error: BaseException) -> int:
        from .errors import DengineError

        consequence = _CONSEQUENCES.get(callback, f"{callback} fails")
        logger.log(
            logging.WARNING if callback == "read" else logging.ERROR,
            "%s.%s raised; %s",
            self._name,
            callback,
            consequence,
            exc_info=error,
        )
        if callback != "read":
            with self._lock:
                if self.first is None:
                    self.first = error
        if isinstance(error, DengineError) and error.code < 0:
            return error.code
        return _dengine.ERR_STATE_MACHINE


_CONSEQUENCES = {
    "apply": "the node stops rather than let replicas diverge "
    "(DENGINE_ERR_STATE_MACHINE)",
    "restore": "the node stops: it cannot install the snapshot",
    "start": "the node does not start",
    "read": "the read fails",
    "last_applied": "dengine takes it as 0 and replays every entry since "
    "the last snapshot",
}
