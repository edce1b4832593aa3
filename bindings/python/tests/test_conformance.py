"""dengine.testing: the conformance suite over Python machines."""

from __future__ import annotations

from pathlib import Path

import pytest
from machines import ForgetfulMachine, KVMachine, command

import dengine


def test_a_correct_machine_passes(tmp_path: Path) -> None:
    report = dengine.testing.run_conformance(KVMachine, tmp_path, make_command=command)
    assert "redelivery_after_crash" in report
    assert "FAIL" not in report


def test_states_compared_through_read(tmp_path: Path) -> None:
    report = dengine.testing.run_conformance(
        KVMachine, tmp_path, make_command=command, state_query=lambda: b""
    )
    assert "FAIL" not in report


def test_a_machine_that_reapplies_redelivered_entries_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as info:
        dengine.testing.run_conformance(
            ForgetfulMachine, tmp_path, make_command=command
        )
    failures = [
        line for line in str(info.value).splitlines() if line.startswith("FAIL")
    ]
    assert len(failures) == 1 and "redelivery_after_crash" in failures[0]


class Exploding(KVMachine):
    def snapshot(self, dir: str, last_index: int) -> None:
        raise OSError("disk full")


def test_a_callback_exception_is_chained_to_the_failure(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as info:
        dengine.testing.run_conformance(Exploding, tmp_path, make_command=command)
    assert "FAIL snapshot_generate_reset_install" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


def test_a_missing_directory_is_an_argument_error(tmp_path: Path) -> None:
    with pytest.raises(dengine.InvalidArgumentError):
        dengine.testing.run_conformance(KVMachine, tmp_path / "missing")


def test_the_performance_run_reports_times(tmp_path: Path) -> None:
    # Timing depends on the computer: whether the limits were met is not
    # asserted, only that the run measures and reports.
    try:
        report = dengine.testing.run_performance(
            KVMachine, tmp_path, make_command=command
        )
    except AssertionError as e:
        report = str(e)
    assert "100 entries" in report and "1000 entries" in report
