"""The pool: a zygote that is a fresh interpreter, a process per call, failures confined to their own call."""

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

pytestmark = pytest.mark.django_db(transaction=True)


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


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in text.split()]


def run_in_threads(version: ScriptVersion, callers: int, calls_each: int, flow: Any = None) -> list[Any]:
    """`callers` threads each run the version `calls_each` times; returns every result or exception."""
    outcomes: list[Any] = []
    lock = threading.Lock()

    def caller(index: int) -> None:
        try:
            for _ in range(calls_each):
                data = {**DATA, "flow": {"id": index if flow is None else flow}}
                try:
                    outcome: Any = run_script(version, data)
                except ScriptError as exc:
                    outcome = exc
                with lock:
                    outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_the_zygote_is_a_fresh_isolated_interpreter_with_an_empty_environment(make_version: Make) -> None:
    make_version(TRIVIAL_CODE)
    pid = get_pool().zygote_pid

    assert pid != os.getpid()
    assert Path(f"/proc/{pid}/environ").read_bytes() == b""
    assert f"PPid:\t{os.getpid()}\n" in Path(f"/proc/{pid}/status").read_text()
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert arguments[1] == b"-I"  # `python -I ...`: started by exec, not a fork of this threaded process


def test_every_call_runs_in_a_process_of_its_own(make_version: Make) -> None:
    pool = get_pool()
    pids = [pool.probe([])["pid"] for _ in range(5)]

    assert len(set(pids)) == 5
    assert pool.zygote_pid not in pids and os.getpid() not in pids
    for pid in pids:
        wait_until(lambda pid=pid: is_dead(pid), f"call process {pid} to end")


def test_spares_forked_in_batches_each_serve_one_call(make_version: Make) -> None:
    from django.test import override_settings

    from scripts_app.sandbox.pool import shutdown_pool

    version = make_version(TRIVIAL_CODE)
    with override_settings(PATCHBAY_SCRIPT_POOL_SIZE=6):
        shutdown_pool()
        try:
            pool = get_pool()
            assert pool.spare_batch > 1  # the zygote is asked for several processes in one message
            pids = [pool.probe([])["pid"] for _ in range(3 * pool.spare_target)]
            outcomes = run_in_threads(version, callers=4, calls_each=6)
        finally:
            shutdown_pool()

    assert len(set(pids)) == len(pids)
    assert all(not isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert {outcome.payload for outcome in outcomes} == {"pong:ping"}


def test_a_killed_zygote_is_replaced_and_concurrent_calls_all_complete(make_version: Make) -> None:
    version = make_version(TRIVIAL_CODE)
    run_script(version, dict(DATA))
    killed = get_pool().zygote_pid
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: is_dead(killed), f"zygote {killed} to die")

    outcomes = run_in_threads(version, callers=6, calls_each=5)

    assert len(outcomes) == 30
    assert all(not isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert {outcome.payload for outcome in outcomes} == {"pong:ping"}
    assert get_pool().zygote_pid != killed
    assert_pool_healthy(version)


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_a_call_process_killed_mid_call_fails_only_that_call(make_version: Make) -> None:
    slow = make_version(
        "def handle(data):\n    total = 0\n    while True:\n        total += 1\n", name="Slow"
    )
    quick = make_version(TRIVIAL_CODE, name="Quick")
    pool = get_pool()
    outcome: list[Any] = []

    def call_slow() -> None:
        try:
            outcome.append(run_script(slow, dict(DATA)))
        except ScriptError as exc:
            outcome.append(exc)
        finally:
            connection.close()

    def busy_call() -> int | None:
        # The zygote's children are processes waiting for a call and the one running the slow script,
        # which is the only one using CPU time.
        return next((pid for pid in children_of(pool.zygote_pid) if cpu_ticks(pid) >= 3), None)

    thread = threading.Thread(target=call_slow)
    thread.start()
    wait_until(lambda: busy_call() is not None, "the slow script to run")
    busy_pid = busy_call()
    assert busy_pid is not None
    os.kill(busy_pid, signal.SIGKILL)
    others = run_in_threads(quick, callers=3, calls_each=4)
    thread.join()

    (failure,) = outcome
    assert isinstance(failure, ScriptError)
    assert failure.error_type == "WorkerCrashed"
    assert "killed (SIGKILL)" in failure.message
    assert str(failure).startswith("Script 'Slow' v1: WorkerCrashed:")
    assert len(others) == 12 and all(result.payload == "pong:ping" for result in others)
    assert_pool_healthy(quick)


def test_more_callers_than_slots_all_get_their_answers(make_version: Make) -> None:
    version = make_version(
        "def handle(data):\n    data['payload'] = str(sum(range(20000)))\n    return data\n"
    )

    outcomes = run_in_threads(version, callers=8, calls_each=6)

    assert [outcome.payload for outcome in outcomes] == [str(sum(range(20000)))] * 48
    assert get_pool().stats() == {"configured": 2, "idle": 2, "busy": 0, "waiting": 0}


def test_a_timed_out_call_is_stopped_while_other_calls_continue(make_version: Make) -> None:
    sleeper = make_version("import time\n\ndef handle(data):\n    time.sleep(60)\n", name="Sleeper")
    quick = make_version(TRIVIAL_CODE, name="Quick")
    failures: list[ScriptError] = []

    def call_sleeper() -> None:
        try:
            run_script(sleeper, {**DATA, "flow": {"id": 99}})
        except ScriptError as exc:
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=call_sleeper)
    thread.start()
    others = run_in_threads(quick, callers=2, calls_each=5)
    thread.join()

    assert [failure.error_type for failure in failures] == ["TimeoutError"]
    assert failures[0].line == 4  # stopped inside the call, at the script's line
    assert all(result.payload == "pong:ping" for result in others)
    assert_pool_healthy(quick)


def test_a_call_that_ignores_its_timer_is_killed_by_the_zygote(make_version: Make) -> None:
    stubborn = make_version(
        "import time\n\ndef handle(data):\n    while True:\n        try:\n            time.sleep(60)\n"
        "        except BaseException:\n            pass\n",
        name="Stubborn",
    )

    with pytest.raises(ScriptError) as failed:
        run_script(stubborn, dict(DATA))

    assert failed.value.error_type == "TimeoutError"
    assert "longer than 2 s" in failed.value.message


def test_pool_stats_for_the_metrics_endpoint(make_version: Make) -> None:
    from scripts_app.sandbox.pool import pool_stats, shutdown_pool

    version = make_version(TRIVIAL_CODE)
    run_script(version, dict(DATA))
    assert pool_stats() == {"configured": 2, "idle": 2, "busy": 0, "waiting": 0}

    shutdown_pool()
    assert pool_stats() == {"configured": 0, "idle": 0, "busy": 0, "waiting": 0}
    assert run_script(version, dict(DATA)).payload == "pong:ping"  # the next call starts a new pool
    assert pool_stats()["configured"] == 2


def test_the_zygote_keeps_compiled_code_so_later_calls_do_not_compile(make_version: Make) -> None:
    import json

    from scripts_app.models import code_checksum

    pool = get_pool()
    code = "def handle(data):\n    data['payload'] = 'fresh'\n    return data\n"

    def call() -> dict[str, Any]:
        request = {"op": "run", "code": code, "checksum": code_checksum(code), "data": DATA, "timeout": 5}
        return pool.call(json.dumps(request).encode(), timeout=5, checksum=code_checksum(code))

    first = call()
    # The processes forked after the first call compiled it have the code; those forked before do not.
    later = [call() for _ in range(pool.spare_target + 2)]

    assert first["ok"] and first["code_cached"] is False
    assert all(answer["result"]["payload"] == "fresh" for answer in later)
    assert later[-1]["code_cached"] is True
