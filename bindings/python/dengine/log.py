"""dengine's engine logs in Python's :mod:`logging`.

On import, ``dengine`` routes the engine's log lines at INFO and above to the
logger named ``"dengine"`` (configure it like any other logger). Lines are
emitted from the ``dengine-events`` thread, so engine threads never wait for
the GIL to log.
"""

from __future__ import annotations

import logging

from . import _dengine, _events

_ENGINE_LEVELS = (
    (logging.ERROR, _dengine.LOG_ERROR),
    (logging.WARNING, _dengine.LOG_WARN),
    (logging.INFO, _dengine.LOG_INFO),
)


def capture(level: int = logging.INFO) -> None:
    """Routes engine log lines at ``level`` (a :mod:`logging` level) and
    above into the ``"dengine"`` logger. Process-wide."""
    engine_level = next(
        (engine for python, engine in _ENGINE_LEVELS if level >= python),
        _dengine.LOG_DEBUG,
    )
    _events.start()
    _dengine.capture_logs(engine_level)


def release() -> None:
    """Restores the engine's own logging: WARN and above to stderr."""
    _dengine.release_logs()
