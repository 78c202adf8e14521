"""Runaway protection (issue 13 item 3): runs carry their trigger chain through run_flow shapes and through
webhooks called by a run of this installation; a chain too deep or looping too often is refused with a
clear error, and webhook runs of a flow can be rate limited (429)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.test import Client, override_settings

from designer.models import Flow
from designer.services import create_flow, deploy_flow, save_draft
from runs import lifecycle
from runs.models import Run
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.django_db


def drive_all(limit: int = 50) -> list[Run]:
    """Execute queued runs, oldest first, until none is left (at most `limit`)."""
    for _ in range(limit):
        run = Run.objects.filter(status=Run.Status.QUEUED).order_by("id").first()
        if run is None:
            return list(Run.objects.order_by("id"))
        run_once(run)
    raise AssertionError(f"still queued after {limit} runs: the flows run without end")


def run_flow_graph(target: int | None) -> dict[str, Any]:
    shapes = [shape("trigger", "trigger", kind="manual")]
    if target is not None:
        shapes.append(shape("call", "run_flow", flow=target))
    return {"shapes": shapes, "connections": [{"source": "trigger", "target": "call"}] if target else []}


def test_flow_a_running_b_running_a_stops_at_the_second_visit() -> None:
    a = create_flow(name="A", graph=run_flow_graph(None))
    b = create_flow(name="B", graph=run_flow_graph(a.pk))
    save_draft(flow=a, graph=run_flow_graph(b.pk))
    deploy_flow(flow=a)
    deploy_flow(flow=b)

    lifecycle.enqueue_run(flow=a, trigger=Run.Trigger.MANUAL)
    runs = drive_all()

    assert [run.flow.name for run in runs] == ["A", "B", "A", "B"]
    assert [run.trigger_chain for run in runs][:3] == [
        [],
        [{"run": runs[0].pk, "flow": a.pk}],
        [{"run": runs[0].pk, "flow": a.pk}, {"run": runs[1].pk, "flow": b.pk}],
    ]
    last = runs[-1]
    assert last.status == Run.Status.FAILED
    assert "Trigger chain loops: flow 'A' would run for the 3th time" in last.error
    assert "PATCHBAY_TRIGGER_CHAIN_MAX_VISITS = 2" in last.error


@override_settings(PATCHBAY_TRIGGER_CHAIN_MAX_DEPTH=3)
def test_a_chain_deeper_than_the_setting_is_refused() -> None:
    flows: list[Flow] = []
    for number in range(6, 0, -1):
        flow = create_flow(name=f"F{number}", graph=run_flow_graph(flows[-1].pk if flows else None))
        deploy_flow(flow=flow)
        flows.append(flow)

    lifecycle.enqueue_run(flow=flows[-1], trigger=Run.Trigger.MANUAL)
    runs = drive_all()

    assert [run.flow.name for run in runs] == ["F1", "F2", "F3", "F4"]
    assert "Trigger chain too deep" in runs[-1].error and "MAX_DEPTH = 3" in runs[-1].error


def test_a_retry_keeps_the_chain_of_the_run_it_retries() -> None:
    a = create_flow(name="A", graph=run_flow_graph(None))
    deploy_flow(flow=a)
    parent = lifecycle.enqueue_run(flow=a, trigger=Run.Trigger.MANUAL)
    child = lifecycle.enqueue_run(flow=a, trigger=Run.Trigger.RUN_FLOW, parent_run=parent)
    Run.objects.filter(pk=child.pk).update(status=Run.Status.FAILED)
    child.refresh_from_db()

    retry = lifecycle.queue_run_attempt(run=child, delay_seconds=0)

    assert retry.trigger_chain == child.trigger_chain == [{"run": parent.pk, "flow": a.pk}]


@pytest.fixture
def self_calling_flow(make_connector, make_endpoint) -> Flow:
    """A webhook flow whose connector posts to the flow's own webhook."""
    flow = create_flow(
        name="Echo", graph={"shapes": [shape("trigger", "trigger", kind="webhook")], "connections": []}
    )
    connector = make_connector(base_url="http://testserver")
    endpoint = make_endpoint(connector, path=f"/hooks/{flow.webhook_key}/", method="POST")
    graph = {
        "shapes": [
            shape("trigger", "trigger", kind="webhook"),
            shape("again", "connector", connector=connector.pk, endpoint=endpoint.pk),
        ],
        "connections": [{"source": "trigger", "target": "again"}],
    }
    save_draft(flow=flow, graph=graph)
    deploy_flow(flow=flow)
    return flow


def test_a_connector_pointed_at_its_own_webhook_stops_at_the_chain_limit(self_calling_flow: Flow) -> None:
    client = Client()

    def forward(request: httpx.Request) -> httpx.Response:
        # The webhook of this installation, reached through the Django test client.
        headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in request.headers.items()}
        headers.pop("HTTP_CONTENT_TYPE", None)
        headers.pop("HTTP_CONTENT_LENGTH", None)
        answer = client.generic(
            request.method,
            request.url.raw_path.decode(),
            request.content,
            content_type=request.headers.get("content-type", "application/json"),
            **headers,
        )
        return httpx.Response(answer.status_code, content=answer.content)

    from connectors.client import use_transport

    with use_transport(httpx.MockTransport(forward)):
        assert (
            client.post(
                f"/hooks/{self_calling_flow.webhook_key}/", "{}", content_type="application/json"
            ).status_code
            == 200
        )
        runs = drive_all()

    # Run 1 (outside call) starts run 2, ... the flow may occur twice in one chain: two runs, then 409.
    assert len(runs) == 2
    assert runs[1].trigger_chain == [{"run": runs[0].pk, "flow": self_calling_flow.pk}]
    assert runs[-1].status == Run.Status.FAILED
    assert "Trigger chain loops" in runs[-1].steps.get(shape_id="again").error or "409" in runs[-1].error


def test_a_forged_chain_header_is_ignored(self_calling_flow: Flow) -> None:
    client = Client()
    response = client.post(
        f"/hooks/{self_calling_flow.webhook_key}/",
        "{}",
        content_type="application/json",
        HTTP_X_PATCHBAY_TRIGGER_CHAIN='[{"run": 1, "flow": 1}]',
    )

    assert response.status_code == 200
    run = Run.objects.get()
    assert run.trigger_chain == [] and "header_x_patchbay_trigger_chain" not in run.input_meta


@override_settings(PATCHBAY_WEBHOOK_RUNS_PER_MINUTE=3)
def test_webhook_runs_beyond_the_per_flow_rate_limit_get_429(self_calling_flow: Flow) -> None:
    other = create_flow(
        name="Other", graph={"shapes": [shape("trigger", "trigger", kind="webhook")], "connections": []}
    )
    deploy_flow(flow=other)
    client = Client()
    answers = [
        client.post(f"/hooks/{self_calling_flow.webhook_key}/", "{}", content_type="application/json")
        for _ in range(4)
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert "PATCHBAY_WEBHOOK_RUNS_PER_MINUTE = 3" in answers[-1].json()["detail"]
    # Per flow: another flow's webhook still answers.
    assert (
        client.post(f"/hooks/{other.webhook_key}/", "{}", content_type="application/json").status_code == 200
    )
    assert Run.objects.filter(flow=self_calling_flow).count() == 3
