"""Edge inputs of issue 13 item 7: non-finite Retry-After, CRLF in payload meta, cron expressions that can
never fire, and payload downloads, each through the public interfaces."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from designer.services import create_flow
from runs import services
from runs.models import Payload, Run, Step
from runs.triggers.schedule import fire_due_schedules
from tests.runs.conftest import drive, run_once, shape

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def order_flow(make_flow, make_connector, make_endpoint):
    connector = make_connector(base_url="https://shop.example.test/api")
    endpoint = make_endpoint(connector, path="/orders/7")
    return make_flow(
        [
            shape(
                "get-order", "connector", "Get order", connector=connector.pk, endpoint=endpoint.pk, retries=1
            )
        ]
    )


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "infinity", "1e400"])
def test_a_retry_after_that_is_not_a_finite_number_is_ignored(order_flow, upstream, value: str) -> None:
    upstream.add("GET /api/orders/7", httpx.Response(429, headers={"Retry-After": value}), {"order": 7})
    run = run_once(services.enqueue_run(flow=order_flow, trigger="api", payload="{}"))

    # Retried after the ordinary backoff (tiny in tests), not failed with an internal engine error.
    assert run.status == Run.Status.QUEUED, run.error
    assert (run.available_at - timezone.now()).total_seconds() < 60
    assert drive(run).status == Run.Status.SUCCEEDED


def test_a_payload_download_strips_crlf_from_the_content_type_meta(
    viewer_client: APIClient, make_flow
) -> None:
    flow = make_flow([shape("say", "notify", message="hi")])
    run = services.enqueue_run(flow=flow, trigger="api", payload="{}")
    step = Step.objects.create(run=run, shape_id="say", shape_type="notify")
    payload = Payload.objects.create(
        run=run,
        step=step,
        direction="input",
        body="{}",
        meta={"content_type": "application/json\r\nSet-Cookie: stolen=1"},
    )

    response = viewer_client.get(f"/api/payloads/{payload.pk}/download/")

    assert response.status_code == 200
    assert "\r" not in response["Content-Type"] and "\n" not in response["Content-Type"]
    assert response["Content-Type"].startswith("application/json")
    assert not response.cookies.get("stolen")
    assert response.content == b"{}"


def _schedule_graph(*cron: str) -> dict[str, Any]:
    return {
        "shapes": [
            shape("trigger", "trigger", kind="schedule", cron=list(cron)),
            shape("say", "notify", message="tick"),
        ],
        "connections": [{"source": "trigger", "target": "say"}],
    }


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_deploy_refuses_a_cron_expression_that_can_never_fire(editor_client: APIClient, cron: str) -> None:
    flow = create_flow(name="Never", graph=_schedule_graph("0 * * * *", cron))

    response = editor_client.post(f"/api/flows/{flow.pk}/deploy/", {}, format="json")

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert [(error["shape"], error["setting"]) for error in errors] == [("trigger", "cron.1")]
    assert "never" in errors[0]["message"]


def test_a_cron_expression_that_fires_once_in_four_years_is_accepted(editor_client: APIClient) -> None:
    flow = create_flow(name="Leap day", graph=_schedule_graph("0 0 29 2 *"))

    response = editor_client.post(f"/api/flows/{flow.pk}/deploy/", {}, format="json")

    assert response.status_code == 201, response.json()


def test_the_scheduler_warns_once_about_a_stored_cron_that_never_fires(
    make_flow, caplog: pytest.LogCaptureFixture
) -> None:
    # A version deployed before the deploy check existed.
    flow = make_flow(
        [
            shape("trigger", "trigger", kind="schedule", cron=["0 * * * *"]),
            shape("say", "notify", message="x"),
        ]
    )
    version = flow.versions.get(status="deployed")
    graph = version.graph
    graph["shapes"][0]["settings"]["cron"] = ["0 0 31 2 *"]
    type(version).objects.filter(pk=version.pk).update(
        graph=graph, deployed_at=datetime(2026, 1, 1, tzinfo=UTC)
    )

    now = datetime(2026, 3, 1, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="runs.triggers.schedule"):
        for second in range(30):
            assert fire_due_schedules(now=now + timedelta(seconds=second)) == []
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1, [record.getMessage() for record in warnings]
    assert "never" in warnings[0].getMessage()
