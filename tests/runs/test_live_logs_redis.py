"""Live run logs across processes: events sent by another process reach a websocket on this one through
channels-redis (the real Redis at PATCHBAY_TEST_REDIS_URL; skipped, with the reason, when it is unset).

The other processes use the same database as this test: the on-disk SQLite file or the PostgreSQL test
database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.db import connections
from rest_framework.authtoken.models import Token

from config import roles
from config.asgi import application
from runs.models import LogLine, Run
from runs.tasks import execute_run
from tests.reliability.processes import database_url_of_this_test
from tests.runs.test_celery_executor import (  # noqa: F401 (fixtures)
    REPO,
    celery_queue,
    celery_worker,
)
from tests.runs.test_websocket import start_engine_run

REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "")
RECEIVE_TIMEOUT = 30

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not REDIS_URL, reason="PATCHBAY_TEST_REDIS_URL is unset: no Redis to stream through"),
]


@pytest.fixture(autouse=True)
def role_groups(transactional_db: None) -> None:
    for role in roles.ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    """See tests/runs/test_websocket.py: the test communicator leaves a database connection open."""
    yield
    await database_sync_to_async(connections.close_all)()


def redis_layer(prefix: str = "asgi") -> dict[str, Any]:
    """The layer config/settings.py sets up for PATCHBAY_REDIS_URL, under `prefix`."""
    return {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": prefix},
        }
    }


@pytest.fixture
def redis_channel_layer(settings: Any) -> str:
    """This process's channel layer on Redis, under a prefix of its own; returns the prefix.

    channels-redis closes its connections for the test's event loop when that loop closes.
    """
    prefix = f"patchbay-test-{uuid.uuid4().hex[:10]}"
    settings.CHANNEL_LAYERS = redis_layer(prefix)
    return prefix


@database_sync_to_async
def watcher_headers(user: User) -> list[tuple[bytes, bytes]]:
    token = Token.objects.get_or_create(user=user)[0].key
    return [
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
        (b"authorization", f"Token {token}".encode()),
    ]


@database_sync_to_async
def stored_messages(run_id: int) -> list[str]:
    return list(LogLine.objects.filter(run_id=run_id).order_by("seq").values_list("message", flat=True))


async def collect_until_final_status(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        messages.append(message)
        if message["type"] == "run.status" and message["status"] in Run.TERMINAL:
            return messages


# Runs in the other process: write log lines through the engine's writer, then finish the run.
WRITER = """
import sys
import django
django.setup()
from django.conf import settings
settings.CHANNEL_LAYERS = {layers!r}
from runs.events import emit_run_event, flush_run_events
from runs.logs import write_log
from runs.models import Run
run = Run.objects.get(pk={run_id})
for number in range(1, {count} + 1):
    write_log(run=run, level="info", message=f"from another process {{number}}")
Run.objects.filter(pk=run.pk).update(status="succeeded")
emit_run_event(run.pk, {{"type": "run.status", "status": "succeeded"}})
sys.exit(0 if flush_run_events(timeout=30) else 3)
"""


def other_process_environment() -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTEST_VERSION", "PATCHBAY_TEST_ON_POSTGRES", "PYTEST_CURRENT_TEST"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PATCHBAY_DATABASE_URL=database_url_of_this_test(),
        PATCHBAY_REDIS_URL=REDIS_URL,
    )
    return environment


async def test_log_lines_written_by_another_process_reach_a_websocket_here(
    redis_channel_layer: str, viewer_user: User
) -> None:
    run = await start_engine_run(items=1)  # queued, never executed: the other process writes its log
    communicator = WebsocketCommunicator(
        application, f"/ws/runs/{run.pk}/", headers=await watcher_headers(viewer_user)
    )
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    snapshot = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
    before = len(snapshot["logs"])

    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WRITER.format(layers=redis_layer(redis_channel_layer), run_id=run.pk, count=200),
        cwd=REPO,
        env=other_process_environment(),
    )
    messages = await collect_until_final_status(communicator)
    assert await writer.wait() == 0

    lines = [m for m in messages if m["type"] == "run.log"]
    assert [line["seq"] for line in lines] == list(range(before + 1, before + 201))
    assert [line["message"] for line in lines] == [f"from another process {n}" for n in range(1, 201)]
    assert messages[-1] == {"type": "run.status", "status": "succeeded", "run": run.pk}
    await communicator.disconnect()


@pytest.mark.usefixtures("celery_worker")
async def test_a_run_executed_by_a_celery_worker_streams_to_a_websocket_here(
    settings: Any, viewer_user: User
) -> None:
    # The worker's layer is the default one PATCHBAY_REDIS_URL configures.
    settings.CHANNEL_LAYERS = redis_layer()
    run = await start_engine_run(items=30)
    communicator = WebsocketCommunicator(
        application, f"/ws/runs/{run.pk}/", headers=await watcher_headers(viewer_user)
    )
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    snapshot = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
    assert snapshot["run"]["status"] == "queued"

    await database_sync_to_async(execute_run.delay)(run.pk)
    messages = await collect_until_final_status(communicator)

    assert messages[-1]["status"] == "succeeded"
    live_lines = [m for m in messages if m["type"] == "run.log"]
    assert any(line["message"] == "item 29" for line in live_lines)
    lines = [*snapshot["logs"], *live_lines]
    assert [line["message"] for line in lines] == await stored_messages(run.pk)
    assert {m["step"]["shape_id"] for m in messages if m["type"] == "run.step"} >= {"split", "say"}
    await communicator.disconnect()
