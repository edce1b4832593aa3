"""dengine's errors as Python exceptions.

Every failed call raises a :class:`DengineError` subclass chosen by its status
code (``include/dengine.h``, ``DENGINE_ERR_*``); ``.code`` is that code and the
message is the engine's explanation (``dengine_last_error()``).
"""

from __future__ import annotations

import builtins

from . import _dengine


class DengineError(Exception):
    """Base class of every dengine error. ``code`` is the DENGINE_ERR_* value."""

    code: int = _dengine.ERR_INTERNAL

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(DengineError, ValueError):
    """Bad input or wrong API use (a config value, an empty key...)."""

    code = _dengine.ERR_INVALID_ARGUMENT


class NotLeaderError(DengineError):
    """This node cannot serve the request: retry at the leader.

    ``leader_id`` (0: none known) and ``leader_address`` ("" when unknown)
    name the leader as this node knows it.
    """

    code = _dengine.ERR_NOT_LEADER

    def __init__(
        self,
        message: str,
        code: int | None = None,
        leader_id: int = 0,
        leader_address: str = "",
    ) -> None:
        super().__init__(message, code)
        self.leader_id = leader_id
        self.leader_address = leader_address


class TimeoutError(DengineError, builtins.TimeoutError):
    """The deadline passed. For a write the outcome is unknown: it may
    still apply."""

    code = _dengine.ERR_TIMEOUT


class ShuttingDownError(DengineError):
    """The node (or client) is stopping or stopped. Ending a watch, it has
    ``next_revision``: where a watch on another node, or through another
    client, can resume."""

    code = _dengine.ERR_SHUTTING_DOWN
    #: Set when it ends a watch: every matching event below it was received.
    next_revision: int | None = None


class CorruptionError(DengineError):
    """A checksum or format check failed."""

    code = _dengine.ERR_CORRUPTION


class IOError(DengineError, builtins.OSError):
    """The operating system refused (disk, network)."""

    code = _dengine.ERR_IO


class NotFoundError(DengineError):
    """No such key, snapshot or member."""

    code = _dengine.ERR_NOT_FOUND


class UnsupportedError(DengineError):
    """Not available here, e.g. a KV helper on a node with an application
    machine, or a read on a machine without ``read``."""

    code = _dengine.ERR_UNSUPPORTED


class BusyError(DengineError):
    """Try again shortly: a leader not yet ready, a membership change
    pending, a learner not yet caught up."""

    code = _dengine.ERR_BUSY


class StateMachineError(DengineError):
    """A state machine callback failed. A failed ``apply`` stops the node
    (replicas never diverge); the callback's exception is ``__cause__`` when
    it was raised in this process, and its traceback is in the log."""

    code = _dengine.ERR_STATE_MACHINE


class InternalError(DengineError):
    """A bug in dengine: please report it."""

    code = _dengine.ERR_INTERNAL


class SessionExpiredError(DengineError):
    """The cluster no longer holds the client's session (it was evicted, or
    never opened), so the write was not applied; if it was a retry, an
    earlier attempt may have been: its outcome is unknown. The client opens
    a new session for its next writes."""

    code = _dengine.ERR_SESSION_EXPIRED


class CompactedError(DengineError):
    """A watch's start revision is older than the history the node keeps
    (``watch_history_events``, ``watch_history_bytes``, or a snapshot);
    the message names the oldest revision it has. Read the current state
    and watch from there. Raised by ``Node.watch`` or ``Client.watch``
    itself, or at the end of a running watch (a snapshot from the leader replaced the events it
    still needed), then with ``next_revision``."""

    code = _dengine.ERR_COMPACTED
    #: Set when it ends a running watch: every matching event below it was
    #: received.
    next_revision: int | None = None


class WatchOverflowError(DengineError):
    """A watch fell too far behind and was ended: more than ``max_lag``
    events behind the node, or ``max_pending`` events received and not yet
    taken. Start a new watch from ``next_revision``: nothing is lost."""

    code = _dengine.ERR_WATCH_OVERFLOW
    #: Every matching event below it was received, none at or above it.
    next_revision: int | None = None


class CancelledError(DengineError):
    """The call (a watch) was cancelled. A plain ``Exception``, not
    ``asyncio.CancelledError``: it ends that call, never the task awaiting
    it."""

    code = _dengine.ERR_CANCELLED


class PermissionDeniedError(DengineError, builtins.PermissionError):
    """The client's TLS certificate does not allow the operation: an admin
    operation (add, promote or remove a node, transfer leadership, snapshot)
    by a client whose certificate's common name is not one of the node's
    ``tls_admin_identities``. Nothing was done; retrying will not help."""

    code = _dengine.ERR_PERMISSION_DENIED


_BY_CODE: dict[int, type[DengineError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotLeaderError,
        TimeoutError,
        ShuttingDownError,
        CorruptionError,
        IOError,
        NotFoundError,
        UnsupportedError,
        BusyError,
        StateMachineError,
        InternalError,
        SessionExpiredError,
        CompactedError,
        WatchOverflowError,
        CancelledError,
        PermissionDeniedError,
    )
}


def from_status(
    code: int, message: str = "", leader_id: int = 0, leader_address: str = ""
) -> DengineError:
    """The exception for a failed status ``code`` (the extension raises it)."""
    if not message:
        message = _dengine.strerror(code)
    cls = _BY_CODE.get(code, DengineError)
    if cls is NotLeaderError:
        return NotLeaderError(message, code, leader_id, leader_address)
    return cls(message, code)
