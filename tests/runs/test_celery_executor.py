"""The Celery executor against the real Redis with a worker process this test starts and stops.

The worker is a separate process, so it must see the test database: the same on-disk SQLite file, or the
PostgreSQL test database when the suite runs on PostgreSQL. Skipped (with the reason) when
PATCHBAY_TEST_REDIS_URL is unset.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from designer.services import create_flow, deploy_flow
from runs import services
from runs.models import Run, Step
from runs.tasks import execute_run, sweep_runs
from runs.triggers.waiters import WAITER_WAKEUPS
from tests.reliability.processes import celery_sending_to, child_env

REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not REDIS_URL, reason="PATCHBAY_TEST_REDIS_URL is unset: no Redis to run Celery against"
    ),
]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_queue() -> Iterator[str]:
    """Point this process's Celery app at Redis and a queue of its own, and restore it afterwards."""
    with celery_sending_to(REDIS_URL) as queue:
        yield queue


@pytest.fixture
def celery_worker(celery_queue: str, settings: Any) -> Iterator[subprocess.Popen]:
    settings.PATCHBAY_EXECUTOR = "celery"
    environment = child_env(
        PATCHBAY_LOG_LEVEL=os.environ.get("PATCHBAY_LOG_LEVEL", "INFO"),
        PATCHBAY_REDIS_URL=REDIS_URL,
        PATCHBAY_EXECUTOR="celery",
        PATCHBAY_CELERY_QUEUE=celery_queue,
        PATCHBAY_WORKERS="2",
        PATCHBAY_RETRY_DELAY="0.1",
    )
    log = tempfile.NamedTemporaryFile("w+", prefix="celery-worker-", suffix=".log", delete=False)  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=threads",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=REPO,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task, then exit
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        log.seek(0)
        output = log.read()
        log.close()
        os.unlink(log.name)
        print(output[-4000:])  # shown by pytest only when the test failed


def echo_flow(name: str = "Celery echo", trigger: dict[str, Any] | None = None):
    graph = {
        "shapes": [
            {
                "id": "trigger",
                "type": "trigger",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "settings": trigger or {"kind": "manual"},
            },
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


def wait_for_status(run_ids: list[int], status: str, seconds: float = 90.0) -> None:
    """Wait until every run has `status` (a guard against hanging, not a timed assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Run.objects.filter(pk__in=run_ids, status=status).count() == len(run_ids):
            return
        time.sleep(0.2)


def test_the_worker_executes_submitted_runs(celery_worker):
    flow = echo_flow()

    runs = [
        services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload=json.dumps({"order_id": n}))
        for n in range(3)
    ]
    ids = [run.pk for run in runs]
    wait_for_status(ids, "succeeded")

    assert celery_worker.poll() is None
    finished = Run.objects.filter(pk__in=ids).order_by("id")
    assert [run.status for run in finished] == ["succeeded"] * 3
    assert [json.loads(run.final_payload) for run in finished] == [
        {"echo": "0"},
        {"echo": "1"},
        {"echo": "2"},
    ]


def test_a_run_delivered_twice_executes_once(celery_worker):
    flow = echo_flow()
    run = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 5}')
    execute_run.delay(run.pk)
    execute_run.delay(run.pk)

    wait_for_status([run.pk], "succeeded")
    # A later run finishing shows the worker has drained the duplicates sent before it.
    later = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 6}')
    wait_for_status([later.pk], "succeeded")

    assert Run.objects.get(pk=run.pk).status == "succeeded"
    assert Step.objects.filter(run=run, shape_id="wrap").count() == 1


def test_the_sweep_resubmits_a_due_run_whose_message_was_lost(celery_worker, settings):
    flow = echo_flow()
    settings.PATCHBAY_EXECUTOR = "embedded"  # queued without any message reaching Celery
    lost = services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload='{"order_id": 8}')
    Run.objects.filter(pk=lost.pk).update(available_at=timezone.now() - timedelta(minutes=1))
    settings.PATCHBAY_EXECUTOR = "celery"

    assert sweep_runs() >= 1
    wait_for_status([lost.pk], "succeeded")

    assert Run.objects.get(pk=lost.pk).status == "succeeded"


def test_a_final_payload_webhook_answers_with_the_run_the_worker_executed(celery_worker, settings):
    # As deployed with Celery: the web process hears the worker's run.status events through Redis, on the
    # pub/sub layer production uses.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    flow = echo_flow(
        "Celery webhook", trigger={"kind": "webhook", "response": {"mode": "final_payload", "timeout": 60}}
    )
    woken_by_events = WAITER_WAKEUPS.labels(source="event")._value.get()

    response = Client().post(flow.webhook_path, data='{"order_id": 77}', content_type="application/json")

    assert response.status_code == 200, response.content
    assert json.loads(response.content) == {"echo": "77"}
    assert Run.objects.get().status == "succeeded"
    # Woken by the worker's events, not only by polling the database.
    assert WAITER_WAKEUPS.labels(source="event")._value.get() > woken_by_events
