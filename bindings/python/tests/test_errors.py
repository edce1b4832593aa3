"""Every status code of the C API raises its own exception class."""

from __future__ import annotations

import pytest

import dengine
from dengine import _dengine
from dengine.errors import from_status


def test_an_expired_session_has_its_own_exception() -> None:
    error = from_status(_dengine.ERR_SESSION_EXPIRED)
    assert isinstance(error, dengine.SessionExpiredError)
    assert error.code == _dengine.ERR_SESSION_EXPIRED
    assert error.message == "session expired"


@pytest.mark.parametrize(
    ("code", "cls", "message"),
    [
        (_dengine.ERR_COMPACTED, dengine.CompactedError, "revision compacted"),
        (_dengine.ERR_WATCH_OVERFLOW, dengine.WatchOverflowError, "watch overflow"),
        (_dengine.ERR_CANCELLED, dengine.CancelledError, "cancelled"),
    ],
)
def test_the_watch_codes_have_their_own_exceptions(
    code: int, cls: type[dengine.DengineError], message: str
) -> None:
    assert cls.code == code
    error = from_status(code)
    assert type(error) is cls
    assert isinstance(error, dengine.DengineError)
    assert error.code == code
    assert error.message == message
    # Not asyncio's CancelledError (a BaseException): `except Exception` sees it.
    assert isinstance(error, Exception)


def test_the_watch_codes_match_the_header() -> None:
    assert (_dengine.ERR_COMPACTED, _dengine.ERR_WATCH_OVERFLOW) == (-13, -14)
    assert _dengine.ERR_CANCELLED == -15


def test_permission_denied_is_a_permission_error() -> None:
    assert _dengine.ERR_PERMISSION_DENIED == -16
    error = from_status(_dengine.ERR_PERMISSION_DENIED)
    assert type(error) is dengine.PermissionDeniedError
    assert isinstance(error, PermissionError)
    assert error.message == "permission denied"
