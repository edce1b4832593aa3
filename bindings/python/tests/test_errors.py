"""Every status code of the C API raises its own exception class."""

from __future__ import annotations

import dengine
from dengine import _dengine
from dengine.errors import from_status


def test_an_expired_session_has_its_own_exception() -> None:
    error = from_status(_dengine.ERR_SESSION_EXPIRED)
    assert isinstance(error, dengine.SessionExpiredError)
    assert error.code == _dengine.ERR_SESSION_EXPIRED
    assert error.message == "session expired"
