"""The embedded executor: one iteration run directly, the sweep, and the threads executing real runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from designer.models import FlowVersion
from designer.services import create_flow, deploy_flow
from runs import services
from runs.executors.embedded import EmbeddedExecutor, is_server_process, start_for_server
from runs.models import LogLine, Run

REPO = Path(__file__).resolve().parents[2]


def trigger_shape(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "trigger",
        "type": "trigger",
        "name": "Start",
        "position": {"x": 0, "y": 0},
        "settings": settings,
    }


def echo_flow(name: str = "Echo", trigger: dict[str, Any] | None = None):
    """trigger -> manual payload that wraps the input's order_id, so the final payload proves execution."""
    graph = {
        "shapes": [
            trigger_shape(trigger or {"kind": "manual"}),
            {
                "id": "wrap",
                "type": "manual_payload",
                "name": "Wrap",
                "position": {"x": 200, "y": 0},
                "settings": {"payload": '{"echo": "[[payload.order_id]]"}'},
            },
        ],
        "connections": [{"source": "trigger", "target": "wrap"}],
    }
    flow = create_flow(name=name, graph=graph)
    deploy_flow(flow=flow)
    return flow


def wait_until(predicate, *, seconds: float = 60.0) -> bool:
    """Poll `predicate` until it holds; a deadline guard against hanging, not a timed assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.django_db
def test_run_once_returns_false_when_nothing_is_due():
    flow = echo_flow()
    services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload="{}", delay_seconds=3600)

    assert EmbeddedExecutor(workers=1).run_once("test-worker") is False
    assert Run.objects.get().status == "queued"


@pytest.mark.django_db
def test_run_once_executes_the_next_due_run():
    flow = echo_flow()
    run = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 42}')

    assert EmbeddedExecutor(workers=1).run_once("test-worker") is True

    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert json.loads(run.final_payload) == {"echo": "42"}
    assert run.steps.filter(shape_id="wrap", status="succeeded").count() == 1


@pytest.mark.django_db
def test_run_once_takes_manual_runs_ahead_of_the_queue():
    flow = echo_flow()
    scheduled = services.enqueue_run(flow=flow, trigger=Run.Trigger.SCHEDULE, payload='{"order_id": 1}')
    manual = services.enqueue_run(flow=flow, trigger=Run.Trigger.MANUAL, payload='{"order_id": 2}')
    executor = EmbeddedExecutor(workers=1)

    executor.run_once("test-worker")

    assert Run.objects.get(pk=manual.pk).status == "succeeded"
    assert Run.objects.get(pk=scheduled.pk).status == "queued"


@pytest.mark.django_db
def test_the_sweep_requeues_a_run_whose_worker_died_and_the_next_iteration_finishes_it():
    flow = echo_flow()
    run = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 7}')
    # A worker of a process that died: it claimed the run and its lease ran out.
    claimed = services.claim_run(run_id=run.pk, worker_id="dead-process:worker-1")
    assert claimed is not None
    Run.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    executor = EmbeddedExecutor(workers=1)

    assert executor.run_once("test-worker") is False  # still running, as far as the queue knows
    assert executor.sweep_once() == 1
    assert executor.run_once("test-worker") is True

    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert LogLine.objects.filter(run=run, message__startswith="Lease expired").exists()


@pytest.mark.django_db
def test_the_sweep_fires_due_schedules():
    flow = echo_flow("Clock", trigger={"kind": "schedule", "cron": ["* * * * *"]})
    FlowVersion.objects.filter(flow=flow, status="deployed").update(
        deployed_at=timezone.now() - timedelta(minutes=5)
    )

    EmbeddedExecutor(workers=1).sweep_once()

    run = Run.objects.get()
    assert run.trigger == "schedule"
    assert run.flow_id == flow.pk


@pytest.mark.django_db(transaction=True)
def test_started_threads_execute_submitted_runs_and_stop_cleanly():
    flow = echo_flow()
    executor = EmbeddedExecutor(workers=2, poll_interval=0.2, sweep_interval=0.2)
    executor.start()
    try:
        assert executor.running
        runs = [
            services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload=json.dumps({"order_id": n}))
            for n in range(5)
        ]
        ids = [run.pk for run in runs]
        wait_until(lambda: Run.objects.filter(pk__in=ids, status="succeeded").count() == len(ids))
    finally:
        executor.stop(timeout=30)

    assert not executor.running
    finals = sorted(
        json.loads(p)["echo"] for p in Run.objects.filter(pk__in=ids).values_list("final_payload", flat=True)
    )
    assert finals == ["0", "1", "2", "3", "4"]


@pytest.mark.django_db(transaction=True)
def test_threads_pick_up_runs_queued_before_they_started():
    flow = echo_flow()
    # Left behind by an earlier process: queued, and one whose retry delay has just passed.
    waiting = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 1}')
    delayed = services.enqueue_run(
        flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 2}', delay_seconds=0.5
    )
    executor = EmbeddedExecutor(workers=1, poll_interval=0.2, sweep_interval=0.2)
    executor.start()
    try:
        wait_until(lambda: Run.objects.filter(status="succeeded").count() == 2)
    finally:
        executor.stop(timeout=30)

    assert Run.objects.get(pk=waiting.pk).status == "succeeded"
    assert Run.objects.get(pk=delayed.pk).status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_a_final_payload_webhook_answers_with_the_result_of_the_run():
    flow = echo_flow(
        "Synchronous", trigger={"kind": "webhook", "response": {"mode": "final_payload", "timeout": 60}}
    )
    executor = EmbeddedExecutor(workers=1, poll_interval=0.2)
    executor.start()
    try:
        response = Client().post(flow.webhook_path, data='{"order_id": 31}', content_type="application/json")
    finally:
        executor.stop(timeout=30)

    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {"echo": "31"}
    assert response["X-Patchbay-Run"] == str(Run.objects.get().pk)


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["manage.py", "runserver", "127.0.0.1:8000"], {"RUN_MAIN": "true"}, True),
        (["manage.py", "runserver", "127.0.0.1:8000"], {}, False),  # the autoreloader's watcher process
        (["manage.py", "runserver", "--noreload", "127.0.0.1:8000"], {}, True),
        (["/venv/bin/daphne", "config.asgi:application"], {}, True),
        (["/venv/lib/daphne/__main__.py", "config.asgi:application"], {}, True),
        (["/venv/bin/uvicorn", "config.asgi:application"], {}, True),
        (["manage.py", "migrate"], {"RUN_MAIN": "true"}, False),
        (["manage.py", "shell"], {}, False),
        (["/venv/bin/celery", "-A", "config", "worker"], {}, False),
        ([], {}, False),
    ],
)
def test_only_server_processes_count_as_servers(monkeypatch, argv, environ, expected):
    monkeypatch.delenv("RUN_MAIN", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    assert is_server_process(argv) is expected


def test_tests_never_start_the_embedded_executor():
    assert start_for_server() is None


def database_url_of_this_test() -> str:
    """A PATCHBAY_DATABASE_URL for the database this test process is using right now."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    user = quote(database.get("USER") or "")
    password = quote(database.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database["HOST"] or "127.0.0.1"
    return f"postgres://{credentials}{host}:{database['PORT'] or 5432}/{database['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runserver_starts_the_executor_which_picks_up_runs_queued_before_it_started():
    flow = echo_flow()
    # Queued while no server was up (a restart): the server's executor must find it on its own.
    run = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 64}')
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTEST_VERSION", "PATCHBAY_TEST_ON_POSTGRES", "PYTEST_CURRENT_TEST"}
    }
    environment.update(PATCHBAY_DATABASE_URL=database_url_of_this_test(), PATCHBAY_EXECUTOR="embedded")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{free_port()}"],
        cwd=REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: Run.objects.get(pk=run.pk).status == "succeeded")
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)

    run.refresh_from_db()
    assert run.status == "succeeded", errors[-3000:]
    assert json.loads(run.final_payload) == {"echo": "64"}
    assert "Embedded executor started" in errors


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _group_is_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runserver_serves_webhooks_and_live_logs_through_uvicorn_and_control_c_stops_everything(
    admin_user, tmp_path
):
    """`manage.py runserver` as `make run` starts it (autoreloader on, DEBUG on): the uvicorn banner, a
    final-payload webhook answered by the embedded executor, the run's events on the runs feed and its log
    over the run's websocket, static files; then CONTROL-C (SIGINT to the terminal's process group) ends
    the autoreloader, the server, its executor and every script process."""
    import httpx
    from rest_framework.authtoken.models import Token
    from websockets.sync.client import connect

    flow = echo_flow(
        "Served", trigger={"kind": "webhook", "response": {"mode": "final_payload", "timeout": 60}}
    )
    token = Token.objects.create(user=admin_user)
    port = free_port()
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTEST_VERSION", "PATCHBAY_TEST_ON_POSTGRES", "PYTEST_CURRENT_TEST"}
    }
    environment.update(
        PATCHBAY_DATABASE_URL=database_url_of_this_test(),
        PATCHBAY_EXECUTOR="embedded",
        PATCHBAY_DEBUG="1",
        PATCHBAY_LOGIN_THROTTLE="0",
    )
    output = tmp_path / "runserver.log"
    with output.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives a command
        )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _port_open(port) or server.poll() is not None), output.read_text()
        assert server.poll() is None, output.read_text()
        headers = {"Authorization": f"Token {token.key}"}
        with connect(f"ws://127.0.0.1:{port}/ws/runs/", additional_headers=headers, origin=base) as feed:
            response = httpx.post(f"{base}{flow.webhook_path}", json={"order_id": 77}, timeout=60)
            assert response.status_code == 200, response.text
            assert response.json() == {"echo": "77"}
            run_id = int(response.headers["X-Patchbay-Run"])
            statuses = []
            while "succeeded" not in statuses:
                event = json.loads(feed.recv(timeout=30))
                if event.get("type") == "run.status" and event.get("run") == run_id:
                    statuses.append(event["status"])
        run_url = f"ws://127.0.0.1:{port}/ws/runs/{run_id}/"
        with connect(run_url, additional_headers=headers, origin=base) as ws:
            snapshot = json.loads(ws.recv(timeout=30))
        assert snapshot["type"] == "run.snapshot"
        assert snapshot["run"]["status"] == "succeeded"
        seqs = [line["seq"] for line in snapshot["logs"]]
        assert seqs == list(range(1, len(seqs) + 1))
        assert snapshot["logs"][-1]["message"].startswith("Run succeeded in")
        # DEBUG serves the frontend build and admin files from the finders.
        assert httpx.get(f"{base}/static/admin/css/base.css", timeout=30).status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
    text = output.read_text()
    assert f"Starting ASGI/uvicorn {__import__('uvicorn').__version__} development server at {base}/" in text
    assert "Embedded executor started" in text
    # The reloaded child, the script zygote and its processes: nothing of the group outlives CONTROL-C.
    assert wait_until(lambda: _group_is_gone(server.pid), seconds=30), text[-3000:]
    assert not _port_open(port)


@pytest.mark.slow
def test_runserver_on_a_port_in_use_says_so_and_exits(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {
            name: value
            for name, value in os.environ.items()
            if name not in {"PYTEST_VERSION", "PATCHBAY_TEST_ON_POSTGRES", "PYTEST_CURRENT_TEST"}
        }
        environment.update(PATCHBAY_EXECUTOR="embedded", PATCHBAY_VAR_DIR=str(tmp_path))
        environment.pop("PATCHBAY_DATABASE_URL", None)
        finished = subprocess.run(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert finished.returncode == 1
    assert "Error: That port is already in use." in finished.stderr
    # Nothing was served, so no executor was started either.
    assert "Embedded executor started" not in finished.stderr + finished.stdout
