"""/healthz and /metrics through HTTP."""

from __future__ import annotations

import os
import re

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import connections
from django.test import override_settings
from rest_framework.authtoken.models import Token

from config.asgi import application
from runs.executors.embedded import get_embedded_executor
from runs.services import enqueue_run
from tests.runs.conftest import shape

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_reports_each_check_and_fails_when_the_embedded_executor_is_not_running(client):
    executor = get_embedded_executor()
    assert not executor.running
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True
    assert body["checks"]["broker"] == {
        "ok": True,
        "detail": "not used (embedded executor)",
        "ms": body["checks"]["broker"]["ms"],
    }
    assert body["checks"]["executor"]["ok"] is False
    assert "not running" in body["checks"]["executor"]["detail"]


def test_healthz_is_ok_while_the_embedded_executor_runs(client):
    executor = get_embedded_executor()
    executor.start()
    try:
        response = client.get("/healthz")
    finally:
        executor.stop()
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


def test_metrics_report_queue_depth_by_priority_and_runs_by_status(client, make_flow):
    flow = make_flow([shape("note", "notify", message="hello")])
    enqueue_run(flow=flow, trigger="manual")
    enqueue_run(flow=flow, trigger="schedule")
    enqueue_run(flow=flow, trigger="schedule")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'patchbay_queue_depth{priority="0"} 1.0' in text
    assert f'patchbay_queue_depth{{priority="{flow.priority}"}} 2.0' in text
    assert 'patchbay_runs_total{status="queued"} 3.0' in text


@override_settings(PATCHBAY_METRICS_TOKEN="s3cret-metrics")
def test_metrics_need_the_token_when_one_is_configured(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics").status_code == 200


def _feed_watchers(client) -> float:
    text = client.get("/metrics").content.decode()
    found = re.search(r'^patchbay_websocket_watchers\{route="feed"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_open_feed_websockets(client, viewer_user: User) -> None:
    token = await database_sync_to_async(lambda: Token.objects.get_or_create(user=viewer_user)[0].key)()
    scrape = sync_to_async(lambda: client.get("/metrics").content.decode())
    before = await sync_to_async(_feed_watchers)(client)
    communicator = WebsocketCommunicator(
        application,
        "/ws/runs/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"authorization", f"Token {token}".encode()),
        ],
    )
    try:
        connected, _ = await communicator.connect(timeout=30)
        assert connected
        assert f'patchbay_websocket_watchers{{route="feed"}} {before + 1:.1f}' in await scrape()
    finally:
        await communicator.disconnect()
    assert f'patchbay_websocket_watchers{{route="feed"}} {before:.1f}' in await scrape()
    await database_sync_to_async(connections.close_all)()


async def test_refused_feed_websockets_are_not_counted(client) -> None:
    before = await sync_to_async(_feed_watchers)(client)
    communicator = WebsocketCommunicator(
        application, "/ws/runs/", headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")]
    )
    await communicator.connect(timeout=30)
    assert await communicator.receive_output(timeout=30) == {"type": "websocket.close", "code": 4401}
    assert await sync_to_async(_feed_watchers)(client) == before
    await communicator.disconnect()
    assert await sync_to_async(_feed_watchers)(client) == before
    await database_sync_to_async(connections.close_all)()


REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "")


@pytest.mark.integration
@pytest.mark.skipif(not REDIS_URL, reason="PATCHBAY_TEST_REDIS_URL is unset: no Redis channel layer to check")
def test_healthz_checks_the_redis_pub_sub_channel_layer_without_hanging(client, settings):
    # The pub/sub layer drops what is published before its first receive subscribes: a naive
    # send-then-receive round trip hangs forever here.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    response = client.get("/healthz")
    assert response.json()["checks"]["channel_layer"] == {
        "ok": True,
        "detail": "ok",
        "ms": response.json()["checks"]["channel_layer"]["ms"],
    }
