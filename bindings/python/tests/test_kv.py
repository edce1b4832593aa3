"""The built-in KV machine through dengine.Node's helpers, async calls,
errors, and engine logs in Python's logging."""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
from pathlib import Path

import pytest
from conftest import FAST

import dengine


def test_every_kv_helper(kv_node: dengine.Node) -> None:
    kv_node.put("a", "1")
    kv_node.put(b"ab", bytearray(b"2"))
    assert kv_node.get("a") == b"1"
    assert kv_node.get("missing") is None
    assert kv_node.get("a", consistency="lease") == b"1"
    assert kv_node.get("a", consistency="eventual") == b"1"

    assert kv_node.cas("a", b"0", b"9") is False
    assert kv_node.cas("a", b"1", b"9") is True
    assert kv_node.cas("new", None, b"n") is True
    assert kv_node.cas("new", None, b"again") is False
    assert kv_node.get_multi(["a", "missing", "new"]) == [b"9", None, b"n"]

    scan = kv_node.scan_prefix("a")
    assert list(scan) == [(b"a", b"9"), (b"ab", b"2")] and not scan.more
    limited = kv_node.scan_prefix(b"", limit=2)
    assert len(limited) == 2 and limited.more

    assert kv_node.delete("a") is True
    assert kv_node.delete("a") is False
    assert kv_node.get("a") is None

    kv_node.put_ttl("t", "v", ttl=60)
    assert kv_node.get("t") == b"v"


def test_status_of_a_single_leader(kv_node: dengine.Node) -> None:
    kv_node.put("k", "v")
    status = kv_node.status()
    assert status.id == 1 and status.is_leader and status.role == dengine.Role.LEADER
    assert status.leader_id == 1 and status.term >= 1
    assert status.commit_index >= 2 and status.applied_index == status.commit_index
    assert status.fatal_status == 0
    assert [(m.id, m.voter) for m in status.members] == [(1, True)]


def test_bad_arguments_raise_value_errors(kv_node: dengine.Node) -> None:
    with pytest.raises(dengine.InvalidArgumentError, match="ttl"):
        kv_node.put_ttl("t", "v", ttl=0)
    with pytest.raises(dengine.InvalidArgumentError) as info:
        kv_node.put(b"", b"v")
    assert isinstance(info.value, ValueError)
    assert info.value.code == dengine.InvalidArgumentError.code
    with pytest.raises(dengine.InvalidArgumentError, match="consistency"):
        kv_node.get("a", consistency="strong")
    with pytest.raises(TypeError, match="bytes-like"):
        kv_node.put(1, b"v")  # type: ignore[arg-type]
    with pytest.raises(dengine.InvalidArgumentError, match="timeout"):
        kv_node.get("a", timeout=0)


def test_a_node_without_a_python_machine_cannot_propose_to_one(
    kv_node: dengine.Node,
) -> None:
    # The built-in machine answers an unknown command with "bad command"
    # (status 3) rather than stopping the node.
    result = kv_node.propose(b"not a kv command")
    assert result.status == 3 and result.index > 0


def test_stopped_node_refuses_with_shutting_down(tmp_path: Path) -> None:
    node = dengine.Node(id=1, data_dir=tmp_path, initial_voters=[1], **FAST)
    node.wait_for_leader()
    node.put("k", "v")
    node.stop()
    with pytest.raises(dengine.ShuttingDownError):
        node.put("k", "w")
    node.close()
    node.close()  # idempotent
    with pytest.raises(dengine.ShuttingDownError, match="closed"):
        node.status()


def test_data_survives_a_restart(tmp_path: Path) -> None:
    with dengine.Node(id=1, data_dir=tmp_path, initial_voters=[1], **FAST) as node:
        node.wait_for_leader()
        node.put("k", "v")
    with dengine.Node(id=1, data_dir=tmp_path, **FAST) as node:
        node.wait_for_leader()
        assert node.get("k") == b"v"


def test_futures_resolve_and_asyncio_awaits_them(kv_node: dengine.Node) -> None:
    futures = [kv_node.propose_async(b"x") for _ in range(20)]
    indexes = [f.result(timeout=10).index for f in futures]
    assert len(set(indexes)) == 20

    kv_node.put("key", "value")
    # The built-in machine's get query and answer (docs/state-machine-guide.md).
    get_key = b"\x01\x01" + struct.pack("<I", 3) + b"key"

    async def main() -> bytes:
        return await asyncio.wrap_future(
            kv_node.read_async(get_key, consistency="lease")
        )

    assert asyncio.run(main()) == b"\x01\x01\x01" + struct.pack("<I", 5) + b"value"
    # A malformed query fails through the future, not in the caller.
    with pytest.raises(dengine.InvalidArgumentError):
        kv_node.read_async(b"\x01").result(timeout=10)


def test_kv_helpers_refuse_a_node_with_a_python_machine(tmp_path: Path) -> None:
    from machines import KVMachine

    with dengine.Node(
        KVMachine(tmp_path / "m"),
        id=1,
        data_dir=tmp_path / "n",
        initial_voters=[1],
        **FAST,
    ) as node:
        node.wait_for_leader()
        with pytest.raises(dengine.UnsupportedError):
            node.put("k", "v")
        with pytest.raises(dengine.UnsupportedError):
            node.get("k", with_revision=True)
        with pytest.raises(dengine.UnsupportedError):
            node.scan_prefix("k")


def test_engine_logs_reach_the_dengine_logger(tmp_path: Path) -> None:
    seen = threading.Event()
    records: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            if "started" in record.getMessage():
                seen.set()

    logger = logging.getLogger("dengine")
    handler = Capture()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with dengine.Node(id=7, data_dir=tmp_path, initial_voters=[7], **FAST):
            assert seen.wait(10), [r.getMessage() for r in records]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    started = next(r for r in records if "started" in r.getMessage())
    assert started.name == "dengine" and started.levelno == logging.INFO
    assert started.threadName == "dengine-events"
