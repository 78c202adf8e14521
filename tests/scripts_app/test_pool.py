"""The worker pool: killed workers are replaced, concurrent callers never lose a call, no server forks."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from scripts_app import ScriptError, run_script
from scripts_app.models import ScriptVersion
from scripts_app.sandbox.pool import get_pool
from tests.scripts_app.conftest import TRIVIAL_CODE, assert_pool_healthy

Make = Callable[..., ScriptVersion]
DATA = {"payload": "ping", "variables": {}, "meta": {}, "flow": {}}


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll for a state change of another process or thread (not a timing assertion: 30 s is a hang)."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def is_dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_in_threads(version: ScriptVersion, callers: int, calls_each: int) -> list[Any]:
    """`callers` threads each run the version `calls_each` times; returns every result or exception."""
    outcomes: list[Any] = []
    lock = threading.Lock()

    def caller() -> None:
        try:
            for _ in range(calls_each):
                try:
                    outcome: Any = run_script(version, dict(DATA))
                except ScriptError as exc:
                    outcome = exc
                with lock:
                    outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


pytestmark = pytest.mark.django_db(transaction=True)


def test_workers_are_separate_processes_with_an_empty_environment(make_version: Make) -> None:
    make_version(TRIVIAL_CODE)
    pids = get_pool().worker_pids()

    assert len(pids) == 2 and os.getpid() not in pids
    for pid in pids:
        # A fresh interpreter (not a fork of this threaded process) whose parent is this process.
        assert Path(f"/proc/{pid}/environ").read_bytes() == b""
        assert f"PPid:\t{os.getpid()}\n" in Path(f"/proc/{pid}/status").read_text()


def test_killed_idle_workers_are_replaced_and_concurrent_calls_all_complete(make_version: Make) -> None:
    version = make_version(TRIVIAL_CODE)
    run_script(version, dict(DATA))
    killed = get_pool().worker_pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    for pid in killed:
        wait_until(lambda pid=pid: is_dead(pid), f"worker {pid} to die")

    outcomes = run_in_threads(version, callers=6, calls_each=5)

    assert len(outcomes) == 30
    assert all(not isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert {outcome.payload for outcome in outcomes} == {"pong:ping"}
    replaced = get_pool().worker_pids()
    assert len(replaced) == 2 and not set(replaced) & set(killed)
    assert_pool_healthy(version)


def test_a_worker_killed_mid_call_fails_only_that_call(make_version: Make) -> None:
    # A busy loop: the test sees it has started running (its worker's CPU time grows) before killing it.
    slow = make_version(
        "def handle(data):\n    total = 0\n    while True:\n        total += 1\n", name="Slow"
    )
    quick = make_version(TRIVIAL_CODE, name="Quick")
    run_script(quick, dict(DATA))
    pool = get_pool()
    before = set(pool.worker_pids())
    ticks = {pid: cpu_ticks(pid) for pid in before}
    slow_outcome: list[Any] = []

    def call_slow() -> None:
        try:
            slow_outcome.append(run_script(slow, dict(DATA)))
        except ScriptError as exc:
            slow_outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=call_slow)
    thread.start()
    wait_until(lambda: pool.stats()["busy"] == 1, "the slow call to take a worker")
    (busy_pid,) = before - set(pool.worker_pids())
    wait_until(lambda: cpu_ticks(busy_pid) >= ticks[busy_pid] + 3, "the slow script to run")
    os.kill(busy_pid, signal.SIGKILL)
    others = run_in_threads(quick, callers=3, calls_each=4)
    thread.join()

    (failure,) = slow_outcome
    assert isinstance(failure, ScriptError)
    assert failure.error_type == "WorkerCrashed"
    assert "killed (SIGKILL)" in failure.message
    assert str(failure).startswith("Script 'Slow' v1: WorkerCrashed:")
    assert len(others) == 12 and all(result.payload == "pong:ping" for result in others)
    assert_pool_healthy(quick)


def test_more_callers_than_workers_all_get_their_answers(make_version: Make) -> None:
    version = make_version(
        "def handle(data):\n    data['payload'] = str(sum(range(20000)))\n    return data\n"
    )

    outcomes = run_in_threads(version, callers=8, calls_each=6)

    assert [outcome.payload for outcome in outcomes] == [str(sum(range(20000)))] * 48
    assert get_pool().stats() == {"configured": 2, "idle": 2, "busy": 0}


def test_a_timed_out_worker_is_replaced_while_other_calls_continue(make_version: Make) -> None:
    sleeper = make_version("import time\n\ndef handle(data):\n    time.sleep(60)\n", name="Sleeper")
    quick = make_version(TRIVIAL_CODE, name="Quick")
    failures: list[ScriptError] = []

    def call_sleeper() -> None:
        try:
            run_script(sleeper, dict(DATA))
        except ScriptError as exc:
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=call_sleeper)
    thread.start()
    others = run_in_threads(quick, callers=2, calls_each=5)
    thread.join()

    assert [failure.error_type for failure in failures] == ["TimeoutError"]
    assert all(result.payload == "pong:ping" for result in others)
    assert_pool_healthy(quick)


def test_pool_stats_for_the_metrics_endpoint(make_version: Make) -> None:
    from scripts_app.sandbox.pool import pool_stats, shutdown_pool

    version = make_version(TRIVIAL_CODE)
    run_script(version, dict(DATA))
    assert pool_stats() == {"configured": 2, "idle": 2, "busy": 0}

    shutdown_pool()
    assert pool_stats() == {"configured": 0, "idle": 0, "busy": 0}
    assert run_script(version, dict(DATA)).payload == "pong:ping"  # the next call starts a new pool
    assert pool_stats()["configured"] == 2
