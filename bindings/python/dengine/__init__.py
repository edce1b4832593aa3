"""dengine: replicated state machines in Python on an embeddable Raft engine.

Subclass :class:`StateMachine`, give it to a :class:`Node` on each member of
the cluster, and propose commands: every replica applies them in the same
order. See ``bindings/python/README.md`` and the Python section of
``docs/state-machine-guide.md``.
"""

from . import log, testing
from ._dengine import version as _library_version
from .client import Client, ClientTLS
from .errors import (
    BusyError,
    CancelledError,
    CompactedError,
    CorruptionError,
    DengineError,
    InternalError,
    InvalidArgumentError,
    IOError,
    NotFoundError,
    NotLeaderError,
    PermissionDeniedError,
    SessionExpiredError,
    ShuttingDownError,
    StateMachineError,
    TimeoutError,
    UnsupportedError,
    WatchOverflowError,
)
from .machine import (
    ApplyResult,
    Entry,
    EntryKind,
    PublishedEvent,
    SnapshotMeta,
    StateMachine,
)
from .metrics import Metric, Metrics
from .node import Member, Node, Result, Role, ScanResult, Status
from .watch import Event, EventType, Watch

__version__ = _library_version()

__all__ = [
    "ApplyResult",
    "BusyError",
    "CancelledError",
    "Client",
    "ClientTLS",
    "CompactedError",
    "CorruptionError",
    "DengineError",
    "Entry",
    "EntryKind",
    "Event",
    "EventType",
    "IOError",
    "InternalError",
    "InvalidArgumentError",
    "Member",
    "Metric",
    "Metrics",
    "Node",
    "NotFoundError",
    "NotLeaderError",
    "PermissionDeniedError",
    "PublishedEvent",
    "Result",
    "Role",
    "ScanResult",
    "SessionExpiredError",
    "ShuttingDownError",
    "SnapshotMeta",
    "StateMachine",
    "StateMachineError",
    "Status",
    "TimeoutError",
    "UnsupportedError",
    "Watch",
    "WatchOverflowError",
    "log",
    "testing",
]

log.capture()
