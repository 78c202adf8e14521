"""Flows through the API: CRUD, the draft, deploys and the version rules of DESIGN section 1."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from designer.models import Flow, FlowVersion
from designer.services import initial_graph
from runs.models import Run
from tests.designer.conftest import chain, shape


def notify(shape_id: str, message: str = "hello") -> dict:
    return shape(shape_id, "notify", message=message)


def test_flow_crud(editor_client) -> None:
    created = editor_client.post(
        "/api/flows/",
        {"name": "Orders", "description": "Shop to ERP", "priority": 2, "variables": {"region": "eu"}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    flow = created.json()
    assert flow["name"] == "Orders"
    assert flow["priority"] == 2
    assert flow["enabled"] is True
    assert flow["max_run_retries"] == 3
    assert flow["deployed_version"] is None
    assert flow["last_run"] is None
    key = Flow.objects.get(pk=flow["id"]).webhook_key
    assert flow["webhook_url"] == f"http://testserver/hooks/{key}/"

    listed = editor_client.get("/api/flows/").json()
    assert [f["name"] for f in listed["results"]] == ["Orders"]
    assert editor_client.get("/api/flows/?search=shop").json()["count"] == 1
    assert editor_client.get("/api/flows/?search=invoices").json()["count"] == 0

    changed = editor_client.patch(
        f"/api/flows/{flow['id']}/", {"enabled": False, "max_run_retries": 3}, format="json"
    )
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["max_run_retries"]) == (False, 3)
    assert editor_client.get(f"/api/flows/{flow['id']}/").json()["enabled"] is False

    assert editor_client.delete(f"/api/flows/{flow['id']}/").status_code == 204
    assert editor_client.get(f"/api/flows/{flow['id']}/").status_code == 404
    assert not FlowVersion.objects.filter(flow_id=flow["id"]).exists()


def test_new_flow_starts_with_a_draft_holding_one_manual_trigger(editor_client) -> None:
    flow = editor_client.post("/api/flows/", {"name": "Orders"}, format="json").json()
    draft = editor_client.get(f"/api/flows/{flow['id']}/draft/").json()
    assert draft["shapes"] == initial_graph()["shapes"]
    assert draft["connections"] == []
    assert draft["errors"] == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "Orders", "priority": 6}, "priority", "Ensure this value is less than or equal to 5."),
        ({"name": "Orders", "priority": 0}, "priority", "Ensure this value is greater than or equal to 1."),
        ({"name": ""}, "name", "This field may not be blank."),
        (
            {"name": "Orders", "variables": {"region": 1}},
            "variables",
            "Variables must be an object of non-empty names to string values.",
        ),
        (
            {"name": "Orders", "max_run_retries": -1},
            "max_run_retries",
            "Ensure this value is greater than or equal to 0.",
        ),
    ],
)
def test_invalid_flow_settings_are_refused(editor_client, body, field, message) -> None:
    response = editor_client.post("/api/flows/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid input.", "errors": [{"field": field, "message": message}]}


def test_flow_names_are_unique(editor_client, orders_flow) -> None:
    response = editor_client.post("/api/flows/", {"name": "Orders"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "name", "message": "flow with this name already exists."}]


def test_draft_is_saved_with_semantic_errors_and_returns_them(editor_client, orders_flow) -> None:
    graph = chain(notify("n", message=""))
    response = editor_client.put(f"/api/flows/{orders_flow.pk}/draft/", graph, format="json")
    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"shape": "n", "setting": "message", "message": "Setting 'message' must not be empty."}
    ]
    assert response.json()["shapes"] == graph["shapes"]
    assert FlowVersion.objects.get(flow=orders_flow, status="draft").graph == graph


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "The graph must be an object with 'shapes' and 'connections' lists."),
        ({"shapes": []}, "The graph needs a 'connections' list."),
        ({"shapes": [1], "connections": []}, "Every item of 'shapes' must be an object."),
    ],
)
def test_structurally_broken_draft_is_refused(editor_client, orders_flow, body, message) -> None:
    response = editor_client.put(f"/api/flows/{orders_flow.pk}/draft/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The flow graph is malformed.",
        "errors": [{"shape": None, "setting": None, "message": message}],
    }
    assert FlowVersion.objects.get(flow=orders_flow, status="draft").graph == initial_graph()


def deploy(client, flow_id: int, graph: dict) -> int:
    assert client.put(f"/api/flows/{flow_id}/draft/", graph, format="json").json()["errors"] == []
    response = client.post(f"/api/flows/{flow_id}/deploy/", {}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["version"]


def test_deploy_makes_a_new_draft_and_keeps_earlier_versions_inactive(
    editor_client, editor_user, orders_flow
) -> None:
    first = chain(notify("a"))
    second = chain(notify("a"), notify("b"))
    assert deploy(editor_client, orders_flow.pk, first) == 1
    assert editor_client.get(f"/api/flows/{orders_flow.pk}/").json()["deployed_version"] == 1
    # The new draft starts as a copy of what was deployed.
    assert editor_client.get(f"/api/flows/{orders_flow.pk}/draft/").json()["shapes"] == first["shapes"]

    assert deploy(editor_client, orders_flow.pk, second) == 2
    versions = editor_client.get(f"/api/flows/{orders_flow.pk}/versions/").json()
    assert [(v["number"], v["status"]) for v in versions] == [
        (None, "draft"),
        (2, "deployed"),
        (1, "inactive"),
    ]
    assert versions[1]["deployed_by"] == editor_user.username

    v1 = editor_client.get(f"/api/flows/{orders_flow.pk}/versions/1/").json()
    assert v1["status"] == "inactive"
    assert v1["graph"] == first
    assert editor_client.get(f"/api/flows/{orders_flow.pk}/").json()["deployed_version"] == 2


def test_editing_the_draft_after_deploy_leaves_the_deployed_version_unchanged(
    editor_client, orders_flow
) -> None:
    graph = chain(notify("a"))
    deploy(editor_client, orders_flow.pk, graph)
    editor_client.put(f"/api/flows/{orders_flow.pk}/draft/", chain(notify("a", "changed")), format="json")
    assert editor_client.get(f"/api/flows/{orders_flow.pk}/versions/1/").json()["graph"] == graph


def test_restore_copies_a_version_into_the_draft(editor_client, orders_flow) -> None:
    first = chain(notify("a"))
    deploy(editor_client, orders_flow.pk, first)
    deploy(editor_client, orders_flow.pk, chain(notify("b")))
    response = editor_client.post(f"/api/flows/{orders_flow.pk}/versions/1/restore/", format="json")
    assert response.status_code == 200
    assert response.json()["shapes"] == first["shapes"]
    assert response.json()["errors"] == []
    assert editor_client.get(f"/api/flows/{orders_flow.pk}/draft/").json()["shapes"] == first["shapes"]
    # Restoring changes only the draft: version 2 is still the deployed one.
    assert editor_client.get(f"/api/flows/{orders_flow.pk}/").json()["deployed_version"] == 2


def test_unknown_versions_are_404(editor_client, orders_flow) -> None:
    assert editor_client.get(f"/api/flows/{orders_flow.pk}/versions/5/").status_code == 404
    response = editor_client.post(f"/api/flows/{orders_flow.pk}/versions/5/restore/", format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Flow 'Orders' has no version 5.", "errors": []}


def test_deployed_and_inactive_versions_are_immutable_in_the_model(editor_client, orders_flow) -> None:
    deploy(editor_client, orders_flow.pk, chain(notify("a")))
    deploy(editor_client, orders_flow.pk, chain(notify("b")))
    for number in (1, 2):
        version = FlowVersion.objects.get(flow=orders_flow, number=number)
        version.graph = chain(notify("tampered"))
        with pytest.raises(ValidationError, match="immutable"):
            version.save()
    inactive = FlowVersion.objects.get(flow=orders_flow, number=1)
    inactive.status = FlowVersion.Status.DEPLOYED
    with pytest.raises(ValidationError, match="cannot become deployed"):
        inactive.save()
    deployed = FlowVersion.objects.get(flow=orders_flow, number=2)
    deployed.status = FlowVersion.Status.DRAFT
    with pytest.raises(ValidationError, match="cannot become draft"):
        deployed.save()


def test_the_database_allows_one_draft_per_flow(orders_flow) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        FlowVersion.objects.create(flow=orders_flow, status=FlowVersion.Status.DRAFT)


def test_the_database_allows_at_most_one_deployed_version_per_flow(editor_client, orders_flow) -> None:
    deploy(editor_client, orders_flow.pk, chain(notify("a")))
    with pytest.raises(IntegrityError), transaction.atomic():
        FlowVersion.objects.create(flow=orders_flow, status=FlowVersion.Status.DEPLOYED, number=99)


def test_flow_shows_its_last_run(editor_client, orders_flow) -> None:
    deploy(editor_client, orders_flow.pk, chain(notify("a")))
    version = FlowVersion.objects.get(flow=orders_flow, status="deployed")
    Run.objects.create(flow=orders_flow, flow_version=version, trigger="manual", available_at=timezone.now())
    last = Run.objects.create(
        flow=orders_flow, flow_version=version, trigger="api", status="succeeded", available_at=timezone.now()
    )
    data = editor_client.get(f"/api/flows/{orders_flow.pk}/").json()
    assert data["last_run"] == {"id": last.pk, "status": "succeeded", "started_at": None, "finished_at": None}
    assert editor_client.get("/api/flows/").json()["results"][0]["last_run"]["id"] == last.pk


def test_a_flow_with_a_queued_run_cannot_be_deleted_but_a_finished_one_can(
    editor_client, orders_flow
) -> None:
    deploy(editor_client, orders_flow.pk, chain(notify("a")))
    version = FlowVersion.objects.get(flow=orders_flow, status="deployed")
    run = Run.objects.create(
        flow=orders_flow, flow_version=version, trigger="manual", available_at=timezone.now()
    )
    response = editor_client.delete(f"/api/flows/{orders_flow.pk}/")
    assert response.status_code == 409
    assert (
        response.json()["detail"]
        == "Flow 'Orders' has 1 queued or running runs; stop them before deleting it."
    )
    Run.objects.filter(pk=run.pk).update(status="failed")
    assert editor_client.delete(f"/api/flows/{orders_flow.pk}/").status_code == 204
    assert not Run.objects.filter(pk=run.pk).exists()
