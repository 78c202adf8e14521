"""Retry of a failed run from its failed step, with the original or the deployed flow version, and the
one-retry-per-run rule (`POST /api/runs/{id}/retry/`)."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from django.db import connection

from designer.services import deploy_flow, save_draft
from runs import services
from runs.models import Run
from tests.runs.conftest import chain, drive, json_body, run_once, shape

pytestmark = pytest.mark.django_db


@pytest.fixture
def order_flow(make_flow, make_connector, make_endpoint):
    """trigger -> get order (GET /orders/7) -> tag (set_variables) -> ship (POST /ship)."""
    connector = make_connector()
    get_order = make_endpoint(connector, path="/orders/7")
    ship = make_endpoint(connector, path="/ship", method="POST")
    shapes = [
        shape("trigger", "trigger", kind="manual"),
        shape("get", "connector", "Get order", connector=connector.pk, endpoint=get_order.pk),
        shape("tag", "set_variables", "Tag", variables=[{"name": "stage", "value": "fetched"}]),
        shape("ship", "connector", "Ship", connector=connector.pk, endpoint=ship.pk),
    ]
    flow = make_flow(shapes)
    return flow, shapes


def _failed_run(flow, upstream) -> Run:
    upstream.add("GET /orders/7", {"order": 7, "lines": 3})
    upstream.add("POST /ship", httpx.Response(400, json={"error": "carrier down"}))
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"id": 7}'))
    assert run.status == Run.Status.FAILED
    assert len(upstream.calls("GET /orders/7")) == 1 and len(upstream.calls("POST /ship")) == 1
    return run


def test_retry_from_the_failed_step_executes_only_the_failed_and_later_steps(
    order_flow, upstream, editor_client
):
    flow, _ = order_flow
    failed = _failed_run(flow, upstream)
    upstream.add("POST /ship", {"shipped": True})

    response = editor_client.post(
        f"/api/runs/{failed.pk}/retry/", {"from": "failed_step", "version": "original"}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["retry_of"] == failed.pk and body["trigger"] == "retry" and body["attempt"] == 2
    retry = drive(Run.objects.get(pk=body["id"]))
    assert retry.status == Run.Status.SUCCEEDED, retry.error
    # The order was fetched once, by the failed run; the retry only shipped it.
    assert len(upstream.calls("GET /orders/7")) == 1
    assert len(upstream.calls("POST /ship")) == 2
    # The failed step got the recorded output of the step before it.
    assert json_body(upstream.calls("POST /ship")[-1]) == {"order": 7, "lines": 3}
    assert [step.shape_id for step in retry.steps.order_by("id")] == ["ship"]
    assert json.loads(retry.final_payload) == {"shipped": True}
    assert retry.log_lines.filter(message__contains="from its failed step 'Ship'").exists()
    assert failed.log_lines.filter(message__contains=f"Retried manually as run {retry.pk}").exists()


def test_retry_from_the_failed_step_feeds_a_large_recorded_output_to_the_failed_step(
    order_flow, upstream, editor_client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    flow, _ = order_flow
    big = {"order": 7, "notes": "x" * 300_000}  # above the inline limit: stored as a file
    upstream.add("GET /orders/7", big)
    upstream.add("POST /ship", httpx.Response(400))
    failed = run_once(services.enqueue_run(flow=flow, trigger="api"))
    assert failed.status == Run.Status.FAILED
    upstream.add("POST /ship", {"shipped": True})

    response = editor_client.post(f"/api/runs/{failed.pk}/retry/", {"from": "failed_step"}, format="json")

    assert response.status_code == 201, response.json()
    retry = drive(Run.objects.get(pk=response.json()["id"]))
    assert retry.status == Run.Status.SUCCEEDED, retry.error
    assert len(upstream.calls("GET /orders/7")) == 1
    assert json_body(upstream.calls("POST /ship")[-1]) == big


def test_retry_from_the_failed_step_is_refused_when_its_large_payload_was_pruned(
    order_flow, upstream, editor_client, settings, tmp_path
):
    from runs.models import PayloadContent

    settings.MEDIA_ROOT = tmp_path
    flow, _ = order_flow
    upstream.add("GET /orders/7", {"order": 7, "notes": "x" * 300_000})
    upstream.add("POST /ship", httpx.Response(400))
    failed = run_once(services.enqueue_run(flow=flow, trigger="api"))
    PayloadContent.objects.all().delete()  # what retention does once nothing else refers to a file

    response = editor_client.post(f"/api/runs/{failed.pk}/retry/", {"from": "failed_step"}, format="json")

    assert response.status_code == 409
    assert "no longer stored" in response.json()["detail"]
    assert not Run.objects.filter(retry_of=failed).exists()


def test_retry_from_the_failed_step_with_the_deployed_version_runs_its_later_shapes(
    order_flow, upstream, editor_client
):
    flow, shapes = order_flow
    failed = _failed_run(flow, upstream)
    # The fix: a new version that also confirms the shipment after shipping.
    confirm = shape(
        "confirm",
        "manual_payload",
        "Confirm",
        payload='{"confirmed": true, "stage": "[[flow.variables.stage]]"}',
    )
    save_draft(
        flow=flow,
        graph={"shapes": [*shapes, confirm], "connections": chain(*[s["id"] for s in shapes], "confirm")},
    )
    deployed = deploy_flow(flow=flow)
    upstream.add("POST /ship", {"shipped": True})

    response = editor_client.post(
        f"/api/runs/{failed.pk}/retry/", {"from": "failed_step", "version": "deployed"}, format="json"
    )

    assert response.status_code == 201, response.json()
    retry = drive(Run.objects.get(pk=response.json()["id"]))
    assert retry.status == Run.Status.SUCCEEDED, retry.error
    assert retry.flow_version_id == deployed.pk != failed.flow_version_id
    assert len(upstream.calls("GET /orders/7")) == 1 and len(upstream.calls("POST /ship")) == 2
    assert [step.shape_id for step in retry.steps.order_by("id")] == ["ship", "confirm"]
    # The flow variable set before the failure is still set in the retry.
    assert json.loads(retry.final_payload) == {"confirmed": True, "stage": "fetched"}


def test_retry_from_the_start_with_the_deployed_version_executes_every_step(
    order_flow, upstream, editor_client
):
    flow, shapes = order_flow
    failed = _failed_run(flow, upstream)
    save_draft(flow=flow, graph={"shapes": shapes, "connections": chain(*[s["id"] for s in shapes])})
    deployed = deploy_flow(flow=flow)
    upstream.add("POST /ship", {"shipped": True})

    response = editor_client.post(f"/api/runs/{failed.pk}/retry/", {"version": "deployed"}, format="json")

    assert response.status_code == 201, response.json()
    retry = drive(Run.objects.get(pk=response.json()["id"]))
    assert retry.status == Run.Status.SUCCEEDED and retry.flow_version_id == deployed.pk
    assert len(upstream.calls("GET /orders/7")) == 2 and len(upstream.calls("POST /ship")) == 2


def test_retry_from_the_failed_step_is_refused_when_the_version_lost_the_failed_shape(
    order_flow, upstream, editor_client
):
    flow, shapes = order_flow
    failed = _failed_run(flow, upstream)
    without_ship = shapes[:3]
    save_draft(flow=flow, graph={"shapes": without_ship, "connections": chain("trigger", "get", "tag")})
    deploy_flow(flow=flow)

    response = editor_client.post(
        f"/api/runs/{failed.pk}/retry/", {"from": "failed_step", "version": "deployed"}, format="json"
    )

    assert response.status_code == 409
    assert "no longer has the failed shape 'Ship'" in response.json()["detail"]
    assert not Run.objects.filter(retry_of=failed).exists()
    # The original version still has it.
    again = editor_client.post(f"/api/runs/{failed.pk}/retry/", {"from": "failed_step"}, format="json")
    assert again.status_code == 201, again.json()


def test_retry_choices_are_validated(order_flow, upstream, editor_client):
    flow, _ = order_flow
    failed = _failed_run(flow, upstream)

    response = editor_client.post(
        f"/api/runs/{failed.pk}/retry/", {"from": "middle", "version": "newest"}, format="json"
    )

    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"from", "version"}


def test_only_a_failed_run_can_be_retried_from_its_failed_step(make_flow, editor_client):
    run = services.enqueue_run(flow=make_flow([]), trigger="api")
    services.stop_run(run=run)

    response = editor_client.post(f"/api/runs/{run.pk}/retry/", {"from": "failed_step"}, format="json")

    assert response.status_code == 409
    assert "only a failed run" in response.json()["detail"]


def test_a_run_is_retried_at_most_once(order_flow, upstream, editor_client):
    flow, _ = order_flow
    failed = _failed_run(flow, upstream)

    first = editor_client.post(f"/api/runs/{failed.pk}/retry/", {}, format="json")
    second = editor_client.post(f"/api/runs/{failed.pk}/retry/", {"from": "failed_step"}, format="json")

    assert first.status_code == 201
    assert editor_client.get(f"/api/runs/{failed.pk}/").json()["retried_by"] == first.json()["id"]
    assert second.status_code == 409
    assert f"already retried as run {first.json()['id']}" in second.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_five_concurrent_retries_create_one_run(make_flow, editor_user):
    from tests.conftest import _client_for

    flow = make_flow(
        [shape("check", "assert", conditions=[{"path": "ok", "operator": "equals", "value": True}])]
    )
    failed = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": false}'))
    assert failed.status == Run.Status.FAILED
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def retry() -> None:
        client = _client_for(editor_user)
        try:
            barrier.wait()
            statuses.append(client.post(f"/api/runs/{failed.pk}/retry/", {}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409, 409, 409, 409]
    assert Run.objects.filter(retry_of=failed).count() == 1


def test_a_retry_from_the_failed_step_sees_the_run_scope_cache_of_the_run_it_retries(
    make_flow, editor_client
):
    flow = make_flow(
        [
            shape("remember", "cache_add", cache="order", scope="run"),
            shape("check", "assert", conditions=[{"path": "ok", "operator": "equals", "value": True}]),
            shape("recall", "cache_load", cache="order", scope="run"),
        ]
    )
    failed = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": false, "id": 7}'))
    assert failed.status == Run.Status.FAILED
    # The fix: the check passes now (the new version), and recall must find what the failed run stored.
    graph = flow.versions.get(status="deployed").graph
    graph["shapes"][2]["settings"]["conditions"][0]["operator"] = "not_equals"
    save_draft(flow=flow, graph=graph)
    deploy_flow(flow=flow)

    response = editor_client.post(
        f"/api/runs/{failed.pk}/retry/", {"from": "failed_step", "version": "deployed"}, format="json"
    )

    retry = drive(Run.objects.get(pk=response.json()["id"]))
    assert retry.status == Run.Status.SUCCEEDED, retry.error
    assert json.loads(retry.final_payload) == {"ok": False, "id": 7}
