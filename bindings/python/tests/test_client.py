"""dengine.Client against a node that serves clients (client_address)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST, free_port

import dengine


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    with dengine.Node(
        id=1, data_dir=tmp_path, initial_voters=[1], client_address=address, **FAST
    ) as node:
        node.wait_for_leader()
        yield address


def test_kv_through_a_client(served: str) -> None:
    with dengine.Client(served, timeout=10) as client:
        client.put("a", "1")
        client.put(b"ab", b"2")
        assert client.get("a") == b"1"
        assert client.get("missing") is None
        assert client.get("a", consistency="eventual") == b"1"
        assert client.cas("a", b"1", b"3") is True
        assert client.cas("a", b"1", b"4") is False
        assert client.get_multi(["a", "nope", "ab"]) == [b"3", None, b"2"]
        assert list(client.scan_prefix("a")) == [(b"a", b"3"), (b"ab", b"2")]
        assert client.delete("a") is True and client.delete("a") is False
        client.put_ttl("t", "v", ttl=60)
        assert client.get("t") == b"v"

        status = client.status()
        assert status.leader_id == 1 and status.is_leader
        assert client.snapshot() >= status.applied_index - 1
        with pytest.raises(dengine.InvalidArgumentError):
            client.put_ttl("t", "v", ttl=0)


def test_a_closed_client_refuses(served: str) -> None:
    client = dengine.Client([served])
    client.close()
    with pytest.raises(dengine.ShuttingDownError):
        client.get("a")


def test_no_server_ends_in_a_timeout_or_io_error() -> None:
    with dengine.Client(f"127.0.0.1:{free_port()}", timeout=0.5) as client:
        with pytest.raises((dengine.TimeoutError, dengine.IOError)) as info:
            client.put("k", "v")
        assert isinstance(info.value, OSError)
