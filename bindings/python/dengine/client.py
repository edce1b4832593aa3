"""dengine.Client: a client of dengine servers (dengined, or nodes started
with a ``client_address``) over TCP, and its watches."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Self, TypeVar

from . import _dengine
from .errors import from_status
from .node import Bytes, Result, ScanResult, Status, consistency_code, timeout_ms
from .watch import Watch, watch_args

T = TypeVar("T")

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ClientTLS:
    """How a :class:`Client` speaks TLS (docs/operations.md, "TLS"): the
    servers' certificates must chain to ``ca_file`` and carry
    ``server_name`` (None: the host of each endpoint); ``cert_file`` and
    ``key_file`` (both or neither) are this client's certificate and key,
    for servers that require one: its common name is the client's identity.
    ``min_version``: "1.3" (None: the default) or "1.2". The files are read
    when the client is made: a bad one raises InvalidArgumentError naming
    it."""

    ca_file: PathLike
    cert_file: PathLike | None = None
    key_file: PathLike | None = None
    server_name: str | None = None
    min_version: str | None = None

    def _native(self) -> tuple[str, str | None, str | None, str | None, str | None]:
        def path(p: PathLike | None) -> str | None:
            return None if p is None else os.fspath(p)

        return (
            os.fspath(self.ca_file),
            path(self.cert_file),
            path(self.key_file),
            self.server_name,
            self.min_version,
        )


class Client:
    """Talks to the servers at ``endpoints`` (their client addresses, a list
    or a comma-separated string). It finds the leader, follows redirects
    and retries until the deadline (``timeout`` seconds per call, retries
    included). Every write carries the client's session (opened before the
    first write, and again once the cluster let it expire), so a retried
    write applies once; a write that still ends in TimeoutError, IOError or
    SessionExpiredError may or may not have applied.

    With ``tls`` (a :class:`ClientTLS`) every connection speaks TLS; an
    admin call a server refuses to the client's certificate raises
    PermissionDeniedError.

    Thread-safe (calls run one at a time: use a client per thread for
    concurrency); every call releases the GIL. A context manager: leaving
    the block closes it, which ends its watches (see :meth:`watch`).
    """

    def __init__(
        self,
        endpoints: str | Sequence[str],
        *,
        timeout: float = 30.0,
        tls: ClientTLS | None = None,
    ) -> None:
        if not isinstance(endpoints, str):
            endpoints = ",".join(endpoints)
        self._handle: _dengine.Client | None = None
        self._handle = _dengine.Client(
            endpoints,
            timeout_ms(timeout, timeout),
            None if tls is None else tls._native(),
        )

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def put(self, key: Bytes, value: Bytes) -> None:
        self._call(lambda h: h.put(key, value))

    def put_ttl(self, key: Bytes, value: Bytes, ttl: float) -> None:
        """Puts a key that expires ``ttl`` seconds after the leader's clock."""
        self._call(lambda h: h.put_ttl(key, value, max(int(ttl * 1000), 0)))

    def delete(self, key: Bytes) -> bool:
        """True if the key existed."""
        return self._call(lambda h: h.delete(key))

    def cas(self, key: Bytes, expected: Bytes | None, value: Bytes) -> bool:
        """Sets key to value if it holds expected (None: if absent); True if
        it did."""
        return self._call(lambda h: h.cas(key, expected, value))

    def get(self, key: Bytes, *, consistency: str | None = None) -> bytes | None:
        code = consistency_code(consistency)
        return self._call(lambda h: h.get(key, code))

    def get_multi(
        self, keys: Sequence[Bytes], *, consistency: str | None = None
    ) -> list[bytes | None]:
        code = consistency_code(consistency)
        return self._call(lambda h: h.get_multi(list(keys), code))

    def scan_prefix(
        self, prefix: Bytes = b"", *, limit: int = 1000, consistency: str | None = None
    ) -> ScanResult:
        code = consistency_code(consistency)
        items, more = self._call(lambda h: h.scan_prefix(prefix, limit, code))
        return ScanResult(items, more)

    def propose(self, data: Bytes) -> Result:
        """A command for the servers' application machine."""
        reply = self._call(lambda h: h.propose(data))
        return Result(reply.result, reply.data, reply.index, reply.duplicate)

    def read(self, query: Bytes = b"", *, consistency: str | None = None) -> bytes:
        code = consistency_code(consistency)
        return self._call(lambda h: h.read(query, code)).data

    def status(self) -> Status:
        """The answering server's view (the leader's once found)."""
        return Status._from_dict(self._call(lambda h: h.status()))

    def metrics(self) -> str:
        """The answering server's metrics (the leader's once found) in the
        Prometheus text format: what :meth:`dengine.Metrics.text` gives on
        that node."""
        return self._call(lambda h: h.metrics())

    def add_learner(self, id: int, address: str) -> None:
        self._call(lambda h: h.add_learner(id, address))

    def promote(self, id: int) -> None:
        self._call(lambda h: h.promote(id))

    def remove(self, id: int) -> None:
        self._call(lambda h: h.remove(id))

    def transfer_leadership(self, to: int = 0) -> None:
        self._call(lambda h: h.transfer_leadership(to))

    def snapshot(self) -> int:
        return self._call(lambda h: h.snapshot())

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
        """Watches what the servers apply; returns a :class:`~dengine.Watch`
        to iterate (``for`` or ``async for``) over :class:`~dengine.Event`,
        exactly as :meth:`dengine.Node.watch`, with the same keywords.

        Blocks (GIL released) until a server started the watch, trying the
        endpoints for up to the client's ``timeout``; raises
        CompactedError if ``start_revision`` is older than the history
        that server keeps (the message names its oldest revision),
        InvalidArgumentError for options a server refuses, or, when no
        server started it in time, the last error (IOError, TimeoutError).

        The watch then runs on a thread and connection of its own, beside
        this client's calls. It outlives servers: when its server stops or
        its connection breaks, it reconnects to the next endpoint (backing
        off, never giving up) and resumes from the last revision it
        received, so iteration still yields every matching event once, in
        order; only later. It ends with WatchOverflowError or
        CompactedError as a node's watch does, and with ShuttingDownError
        ("the client was closed") when this client is closed: close the
        client after its watches, or resume from the error's
        ``next_revision`` with another client. The watch keeps the client
        alive while it is referenced.
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

    def _call(self, fn: Callable[[_dengine.Client], T]) -> T:
        handle = self._handle
        if handle is None:
            raise from_status(
                _dengine.ERR_SHUTTING_DOWN, "shutting down: the client is closed"
            )
        return fn(handle)
