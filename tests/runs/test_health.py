"""/healthz and /metrics through HTTP."""

from __future__ import annotations

import pytest
from django.test import override_settings

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
