"""Run control API: start a run of a flow, retry and stop runs, with the roles that may do it."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from designer.services import create_flow, deploy_flow, update_flow
from runs.models import LogLine, Run

pytestmark = pytest.mark.django_db


def flow_with_trigger(name: str, *, deploy: bool = True, **fields: Any):
    graph = {
        "shapes": [
            {
                "id": "trigger",
                "type": "trigger",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "settings": {"kind": "manual"},
            }
        ],
        "connections": [],
    }
    flow = create_flow(name=name, graph=graph, **fields)
    if deploy:
        deploy_flow(flow=flow)
    return flow


def finished_run(flow, status: str) -> Run:
    run = Run.objects.create(
        flow=flow,
        flow_version=flow.versions.get(status="deployed"),
        trigger=Run.Trigger.API,
        status=status,
        available_at=timezone.now(),
        finished_at=timezone.now(),
        input_payload='{"order": 7}',
        variables={"region": "eu"},
    )
    return run


def test_editor_starts_a_run_with_payload_and_variables(editor_client):
    flow = flow_with_trigger("Orders", variables={"region": "us", "mode": "full"}, priority=4)

    response = editor_client.post(
        f"/api/flows/{flow.pk}/runs/", {"payload": '{"id": 1}', "variables": {"region": "eu"}}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["flow"] == flow.pk
    assert body["flow_version_number"] == 1
    assert body["trigger"] == "api"  # token-authenticated callers are API callers
    assert body["priority"] == 0  # manual and API runs go ahead of the queue
    run = Run.objects.get(pk=body["id"])
    assert run.input_payload == '{"id": 1}'
    assert run.variables == {"region": "eu", "mode": "full"}
    assert run.created_by.username == "erin-editor"


def test_a_run_started_through_the_session_is_manual(editor_user):
    from rest_framework.test import APIClient

    flow = flow_with_trigger("Session flow")
    client = APIClient()
    client.force_login(editor_user)

    response = client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["trigger"] == "manual"


def test_admin_may_start_a_run(admin_client):
    flow = flow_with_trigger("Admin flow")
    assert admin_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("client_name", "status_code"),
    [("viewer_client", 403), ("outsider_client", 403), ("anonymous_client", 401)],
)
def test_only_editors_and_admins_may_start_runs(request, client_name, status_code):
    flow = flow_with_trigger("Guarded")
    client = request.getfixturevalue(client_name)

    response = client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json")

    assert response.status_code == status_code
    assert set(response.json()) == {"detail", "errors"}
    assert not Run.objects.exists()


def test_a_disabled_flow_refuses_to_start(editor_client):
    flow = flow_with_trigger("Switched off")
    update_flow(flow=flow, enabled=False)

    response = editor_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json")

    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    assert not Run.objects.exists()


def test_an_undeployed_flow_refuses_to_start(editor_client):
    flow = flow_with_trigger("Never deployed", deploy=False)

    response = editor_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json")

    assert response.status_code == 409
    assert "no deployed version" in response.json()["detail"]


def test_starting_a_run_of_an_unknown_flow_is_404(editor_client):
    response = editor_client.post("/api/flows/999999/runs/", {}, format="json")
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "errors"}


def test_bad_start_input_is_a_400_with_field_errors(editor_client):
    flow = flow_with_trigger("Strict")

    response = editor_client.post(
        f"/api/flows/{flow.pk}/runs/", {"variables": ["not", "a", "map"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "variables"


def test_retrying_a_failed_run_queues_the_next_attempt(editor_client):
    flow = flow_with_trigger("Retry me")
    failed = finished_run(flow, Run.Status.FAILED)

    response = editor_client.post(f"/api/runs/{failed.pk}/retry/")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["retry_of"] == failed.pk
    assert body["attempt"] == 2
    assert body["status"] == "queued"
    assert body["input_payload"] == '{"order": 7}'
    assert body["variables"] == {"region": "eu"}


def test_retrying_a_run_that_is_still_queued_is_refused(editor_client):
    flow = flow_with_trigger("Busy")
    queued = editor_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json").json()

    response = editor_client.post(f"/api/runs/{queued['id']}/retry/")

    assert response.status_code == 409
    assert "queued" in response.json()["detail"]


def test_viewer_may_not_retry_or_stop(viewer_client):
    flow = flow_with_trigger("Watched")
    failed = finished_run(flow, Run.Status.FAILED)

    assert viewer_client.post(f"/api/runs/{failed.pk}/retry/").status_code == 403
    assert viewer_client.post(f"/api/runs/{failed.pk}/stop/").status_code == 403
    assert Run.objects.count() == 1


def test_stopping_a_queued_run_stops_it_at_once(editor_client):
    flow = flow_with_trigger("Stop me")
    queued = editor_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json").json()

    response = editor_client.post(f"/api/runs/{queued['id']}/stop/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "stopped"
    assert LogLine.objects.filter(run_id=queued["id"], message__startswith="Run stopped").exists()


def test_stopping_a_running_run_asks_it_to_stop_after_the_current_step(editor_client):
    flow = flow_with_trigger("Long runner")
    run = finished_run(flow, Run.Status.RUNNING)

    response = editor_client.post(f"/api/runs/{run.pk}/stop/")

    assert response.status_code == 200
    assert response.json()["status"] == "running"
    assert response.json()["stop_requested"] is True


def test_stopping_a_finished_run_is_refused(editor_client):
    flow = flow_with_trigger("Done")
    run = finished_run(flow, Run.Status.SUCCEEDED)

    response = editor_client.post(f"/api/runs/{run.pk}/stop/")

    assert response.status_code == 409
    assert "already ended" in response.json()["detail"]


def test_retry_and_stop_of_an_unknown_run_are_404(editor_client):
    assert editor_client.post("/api/runs/424242/retry/").status_code == 404
    assert editor_client.post("/api/runs/424242/stop/").status_code == 404
