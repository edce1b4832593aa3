"""Testing a Python state machine with dengine's conformance suite.

The suite (``dengine_sm_conformance_run``) checks the rules every machine
must keep: lifecycle; apply in order with one result per entry; idempotent
re-delivery of a chunk after a crash; snapshot, reset, restore; durability
after stop and after a close without stop (a crash); reset. In pytest::

    def test_my_machine_conforms(tmp_path):
        dengine.testing.run_conformance(MyMachine, tmp_path)

``MyMachine(path)`` must open (or reopen, recovering) the machine stored in
the directory ``path``: the suite reopens paths to check durability, and
drops machines without ``stop`` to simulate a crash.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from . import _dengine
from .errors import from_status
from .machine import StateMachine, _Binding

MachineFactory = Callable[[str], StateMachine]


def _run(
    suite: Callable[..., tuple[int, str, BaseException | None]],
    name: str,
    machine_factory: MachineFactory,
    directory: str | os.PathLike[str],
    make_command: Callable[[int], bytes] | None,
    state_query: Callable[[], bytes] | None,
) -> str:
    bindings: list[_Binding] = []

    def open_machine(path: str) -> object:
        binding = _Binding(machine_factory(path))
        bindings.append(binding)
        return binding.adapter

    command = None if make_command is None else (lambda n: bytes(make_command(n)))
    query = None if state_query is None else (lambda: bytes(state_query()))
    status, report, builder_error = suite(
        open_machine, os.fspath(directory), command, query
    )
    if status == _dengine.OK:
        return report
    if status == _dengine.ERR_INVALID_ARGUMENT:
        raise from_status(status, report)
    failure = builder_error or next((b.failure for b in bindings if b.failure), None)
    raise AssertionError(f"{name} failed:\n{report}") from failure


def run_conformance(
    machine_factory: MachineFactory,
    directory: str | os.PathLike[str],
    *,
    make_command: Callable[[int], bytes] | None = None,
    state_query: Callable[[], bytes] | None = None,
) -> str:
    """Runs the conformance suite over machines from ``machine_factory(path)``
    in fresh subdirectories of ``directory`` (which must exist). Returns the
    report (one ``ok <case>`` line per case); raises AssertionError with the
    report, chained to the first exception a callback raised, if a case
    fails.

    ``make_command(n)`` gives the suite's n-th command (default: the 8 bytes
    of n, little-endian); distinct n must leave distinguishable states.
    ``state_query()`` gives a query whose answer from ``read`` captures the
    whole state; without it states are compared by the bytes of the files
    ``snapshot`` writes."""
    return _run(
        _dengine.run_conformance,
        "the state machine conformance suite",
        machine_factory,
        directory,
        make_command,
        state_query,
    )


def run_performance(
    machine_factory: MachineFactory,
    directory: str | os.PathLike[str],
    *,
    make_command: Callable[[int], bytes] | None = None,
    state_query: Callable[[], bytes] | None = None,
) -> str:
    """Measures apply throughput (100, then 1,000 entries in chunks of 10,
    each followed by flush) and returns the report with the times; raises
    AssertionError when 100 entries take over 1 s or 1,000 over 30 times as
    long. Timing depends on the machine: a benchmark, not a CI test."""
    return _run(
        _dengine.run_performance,
        "the state machine performance run",
        machine_factory,
        directory,
        make_command,
        state_query,
    )
