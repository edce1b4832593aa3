"""dengine: replicated state machines in Python on an embeddable Raft engine.

Subclass :class:`StateMachine`, give it to a :class:`Node` on each member of
the cluster, and propose commands: every replica applies them in the same
order. See ``bindings/python/README.md`` and the Python section of
``docs/state-machine-guide.md``.
"""

from . import log, testing
from ._dengine import version as _library_version
from .client import Client
from .errors import (
    BusyError,
    CorruptionError,
    DengineError,
    InternalError,
    InvalidArgumentError,
    IOError,
    NotFoundError,
    NotLeaderError,
    SessionExpiredError,
    ShuttingDownError,
    StateMachineError,
    TimeoutError,
    UnsupportedError,
)
from .machine import ApplyResult, Entry, EntryKind, SnapshotMeta, StateMachine
from .node import Member, Node, Result, Role, ScanResult, Status

__version__ = _library_version()

__all__ = [
    "ApplyResult",
    "BusyError",
    "Client",
    "CorruptionError",
    "DengineError",
    "Entry",
    "EntryKind",
    "IOError",
    "InternalError",
    "InvalidArgumentError",
    "Member",
    "Node",
    "NotFoundError",
    "NotLeaderError",
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
    "log",
    "testing",
]

log.capture()
