"""Bulk retry and stop of runs (`POST /api/runs/bulk/`), by ids or by the runs-list filters."""

from __future__ import annotations

import pytest

from runs import services
from runs.models import Run
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.django_db


def _assert_flow(make_flow, name: str):
    return make_flow(
        [shape("check", "assert", conditions=[{"path": "ok", "operator": "equals", "value": True}])],
        name=name,
    )


def test_bulk_retry_on_a_filter_retries_every_failed_run_of_the_flow(make_flow, editor_client):
    flow = _assert_flow(make_flow, "Orders")
    other = _assert_flow(make_flow, "Invoices")
    failed = [
        run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": false}')) for _ in range(3)
    ]
    run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": true}'))
    other_failed = run_once(services.enqueue_run(flow=other, trigger="api", payload='{"ok": false}'))

    response = editor_client.post(
        "/api/runs/bulk/",
        {"action": "retry", "filter": {"flow": str(flow.pk), "status": "failed"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["counts"] == {"retried": 3}
    assert {result["run"] for result in body["results"]} == {run.pk for run in failed}
    for result in body["results"]:
        retry = Run.objects.get(pk=result["retry"])
        assert retry.retry_of_id == result["run"] and retry.status == Run.Status.QUEUED
    assert not Run.objects.filter(retry_of=other_failed).exists()

    # The same filter again: every run was already retried once.
    again = editor_client.post(
        "/api/runs/bulk/",
        {"action": "retry", "filter": {"flow": str(flow.pk), "status": "failed"}},
        format="json",
    ).json()
    assert again["counts"] == {"refused": 3}
    assert all("already retried" in result["detail"] for result in again["results"])


def test_bulk_stop_on_a_filter_stops_queued_runs_and_asks_running_ones(make_flow, editor_client):
    flow = make_flow([], name="Busy")
    queued = [services.enqueue_run(flow=flow, trigger="api") for _ in range(2)]
    running = services.enqueue_run(flow=flow, trigger="api")
    services.claim_run(run_id=running.pk, worker_id="w")
    done = run_once(services.enqueue_run(flow=flow, trigger="api"))

    response = editor_client.post(
        "/api/runs/bulk/", {"action": "stop", "filter": {"flow": str(flow.pk)}}, format="json"
    )

    assert response.status_code == 200, response.json()
    outcomes = {result["run"]: result["outcome"] for result in response.json()["results"]}
    assert outcomes == {
        queued[0].pk: "stopped",
        queued[1].pk: "stopped",
        running.pk: "stop_requested",
        done.pk: "refused",
    }
    assert Run.objects.filter(pk__in=[r.pk for r in queued], status=Run.Status.STOPPED).count() == 2
    assert Run.objects.get(pk=running.pk).stop_requested is True


def test_bulk_retry_by_ids_answers_per_run_including_unknown_ids(make_flow, editor_client):
    flow = _assert_flow(make_flow, "By id")
    failed = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": false}'))
    queued = services.enqueue_run(flow=flow, trigger="api")

    response = editor_client.post(
        "/api/runs/bulk/",
        {"action": "retry", "ids": [failed.pk, queued.pk, 999999], "from": "failed_step"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    results = {result["run"]: result for result in response.json()["results"]}
    assert results[failed.pk]["outcome"] == "retried"
    assert results[queued.pk]["outcome"] == "refused" and "queued" in results[queued.pk]["detail"]
    assert results[999999]["outcome"] == "not_found"


def test_viewers_may_not_use_bulk_actions(make_flow, viewer_client):
    flow = _assert_flow(make_flow, "Watched")
    failed = run_once(services.enqueue_run(flow=flow, trigger="api", payload='{"ok": false}'))

    response = viewer_client.post("/api/runs/bulk/", {"action": "retry", "ids": [failed.pk]}, format="json")

    assert response.status_code == 403
    assert not Run.objects.filter(retry_of=failed).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "delete", "ids": [1]}, "action"),
        ({"action": "retry"}, "ids"),
        ({"action": "retry", "ids": [1], "filter": {"status": "failed"}}, "ids"),
        ({"action": "stop", "filter": {"colour": "red"}}, "filter"),
        ({"action": "stop", "ids": "all"}, "ids"),
        ({"action": "retry", "ids": [1], "version": "latest"}, "version"),
    ],
)
def test_bad_bulk_requests_get_field_errors(editor_client, body, field):
    response = editor_client.post("/api/runs/bulk/", body, format="json")

    assert response.status_code == 400, response.json()
    assert field in {error["field"] for error in response.json()["errors"]}


def test_a_bad_filter_value_is_a_400(editor_client):
    response = editor_client.post(
        "/api/runs/bulk/", {"action": "stop", "filter": {"status": "sleeping"}}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"
