"""The Python side of the extension's event queue (src/events.h).

dengine's threads never take the GIL to report something: completions of
async calls, leader changes, log lines and the wake-ups of coroutines waiting
for a watch are queued in C++, and one daemon thread here ("dengine-events")
takes them in batches and runs their handlers. So futures are resolved,
leader callbacks run and log records are emitted on that thread: a handler
must not block on another dengine future.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from . import _dengine

logger = logging.getLogger("dengine")

_LOG_LEVELS = {
    _dengine.LOG_DEBUG: logging.DEBUG,
    _dengine.LOG_INFO: logging.INFO,
    _dengine.LOG_WARN: logging.WARNING,
    _dengine.LOG_ERROR: logging.ERROR,
}

_LOG = 0  # the other kinds name their handler: (kind, token, *arguments)

_lock = threading.Lock()
_tokens = itertools.count(1)
_handlers: dict[int, tuple[Callable[..., Any], bool]] = {}
_thread: threading.Thread | None = None
_closed = False


def register(handler: Callable[..., Any], *, once: bool) -> int:
    """A token whose events go to ``handler``: ``handler(status, reply)``
    for a completion (``once``: removed after it), ``handler(leader_id,
    term)`` for leader changes (kept until :func:`unregister`),
    ``handler()`` for a watch's wake-up."""
    start()
    token = next(_tokens)
    with _lock:
        _handlers[token] = (handler, once)
    return token


def unregister(token: int) -> None:
    with _lock:
        _handlers.pop(token, None)


def _handler_for(token: int) -> Callable[..., Any] | None:
    with _lock:
        entry = _handlers.get(token)
        if entry is None:
            return None
        handler, once = entry
        if once:
            del _handlers[token]
        return handler


def _run() -> None:
    while True:
        events = _dengine.next_events()
        if events is None:
            return
        for event in events:
            kind = event[0]
            try:
                if kind == _LOG:
                    logger.log(_LOG_LEVELS.get(event[1], logging.ERROR), event[2])
                    continue
                handler = _handler_for(event[1])
                if handler is not None:
                    handler(*event[2:])
            except Exception:  # a handler's bug must not stop the others
                logger.exception("dengine event handler raised")


def start() -> None:
    """Starts the event thread (idempotent)."""
    global _thread
    with _lock:
        if _thread is not None or _closed:
            return
        _thread = threading.Thread(target=_run, name="dengine-events", daemon=True)
        _thread.start()


def shutdown() -> None:
    """Stops the event thread once every queued event is handled (at exit,
    after the nodes are closed)."""
    global _closed
    with _lock:
        _closed = True
        thread = _thread
    _dengine.release_logs()
    _dengine.close_events()
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=10)


atexit.register(shutdown)
