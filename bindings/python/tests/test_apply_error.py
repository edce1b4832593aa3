"""A Python exception in a state machine callback: a failed apply stops the
node with StateMachineError (chained to the exception), the traceback is
logged, and the replica never applies past the failure."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import FAST, wait_until
from machines import KVMachine

import dengine


def test_an_exception_in_apply_stops_the_node(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine = KVMachine(tmp_path / "machine")
    node = dengine.Node(
        machine, id=1, data_dir=tmp_path / "node", initial_voters=[1], **FAST
    )
    try:
        node.wait_for_leader()
        node.propose(b"set before boom")
        with (
            caplog.at_level(logging.ERROR, logger="dengine"),
            pytest.raises(dengine.StateMachineError) as info,
        ):
            node.propose(b"boom")
        error = info.value
        assert error.code == dengine.StateMachineError.code
        assert isinstance(error.__cause__, RuntimeError)
        assert "boom at index" in str(error.__cause__)

        record = next(
            r for r in caplog.records if "KVMachine.apply raised" in r.getMessage()
        )
        assert "the node stops" in record.getMessage()
        assert record.exc_info is not None and record.exc_info[0] is RuntimeError
        assert "boom at index" in caplog.text and "Traceback" in caplog.text

        # The proposer learns first; status() shows it a moment later.
        wait_until(lambda: node.status().fatal_status == dengine.StateMachineError.code)
        with pytest.raises(dengine.StateMachineError):
            node.propose(b"set after boom")
        with pytest.raises(dengine.StateMachineError) as stopped:
            node.stop()
        assert isinstance(stopped.value.__cause__, RuntimeError)
        # Nothing after the failed chunk was applied.
        assert machine.data == {"before": "boom"}
    finally:
        node.close()


class BadResults(KVMachine):
    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        super().apply(entries)
        return []  # one result per entry is required


def test_a_wrong_number_of_results_is_an_apply_failure(tmp_path: Path) -> None:
    with dengine.Node(
        BadResults(tmp_path / "m"),
        id=1,
        data_dir=tmp_path / "n",
        initial_voters=[1],
        **FAST,
    ) as node:
        with pytest.raises(dengine.StateMachineError) as info:
            node.wait_for_leader()
            node.propose(b"set k v")
        assert "results for" in str(info.value.__cause__)


class FailingRead(KVMachine):
    def read(self, query: bytes) -> bytes:
        raise KeyError(query)


def test_an_exception_in_read_fails_only_that_read(tmp_path: Path) -> None:
    with dengine.Node(
        FailingRead(tmp_path / "m"),
        id=1,
        data_dir=tmp_path / "n",
        initial_voters=[1],
        **FAST,
    ) as node:
        node.wait_for_leader()
        with pytest.raises(dengine.StateMachineError):
            node.read(b"k")
        assert node.propose(b"set k v").status == 0
        assert node.status().fatal_status == 0


class Incomplete(dengine.StateMachine):
    def apply(self, entries: list[dengine.Entry]) -> list[dengine.ApplyResult]:
        return [None] * len(entries)


def test_a_machine_must_define_snapshot_and_restore(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="snapshot, restore"):
        dengine.Node(Incomplete(), id=1, data_dir=tmp_path)


class NoRead(KVMachine):
    read = dengine.StateMachine.read  # back to the default: not implemented


def test_reads_need_a_read_method(tmp_path: Path) -> None:
    with dengine.Node(
        NoRead(tmp_path / "m"),
        id=1,
        data_dir=tmp_path / "n",
        initial_voters=[1],
        **FAST,
    ) as node:
        node.wait_for_leader()
        with pytest.raises(dengine.UnsupportedError):
            node.read(b"k")
