"""A flow's alert settings travel with its export: channels and the error flow by name, resolved on import."""

from __future__ import annotations

import pytest

from designer.models import Flow
from designer.services import create_flow
from notifications.models import FlowAlertSettings

pytestmark = pytest.mark.django_db

SIGNING_SECRET = "alert-signing-secret-77"


@pytest.fixture
def alerting_flow(editor_client):
    flow = create_flow(name="Orders")
    handler = create_flow(name="On failure")
    mail = editor_client.post(
        "/api/notification-channels/",
        {"name": "Ops mail", "kind": "email", "config": {"to": ["ops@x.test"]}},
        format="json",
    ).json()
    hook = editor_client.post(
        "/api/notification-channels/",
        {
            "name": "Ops hook",
            "kind": "webhook",
            "config": {"url": "https://hooks.example.test/x"},
            "secret": SIGNING_SECRET,
        },
        format="json",
    ).json()
    saved = editor_client.put(
        f"/api/flows/{flow.pk}/alerts/",
        {
            "channels": [mail["id"], hook["id"]],
            "outcomes": ["failed", "partial_success"],
            "interval_minutes": 15,
            "error_flow": handler.pk,
        },
        format="json",
    )
    assert saved.status_code == 200, saved.json()
    return flow


def test_export_carries_the_alert_settings_by_name_and_no_secret(editor_client, alerting_flow) -> None:
    response = editor_client.get(f"/api/flows/{alerting_flow.pk}/export/")

    assert response.status_code == 200
    assert response.json()["alerts"] == {
        "channels": ["Ops hook", "Ops mail"],
        "outcomes": ["failed", "partial_success"],
        "interval_minutes": 15,
        "error_flow": "On failure",
    }
    assert SIGNING_SECRET not in response.content.decode()


def test_import_restores_the_alert_settings(editor_client, viewer_client, alerting_flow) -> None:
    document = editor_client.get(f"/api/flows/{alerting_flow.pk}/export/").json()

    response = editor_client.post("/api/flows/import/", {**document, "name": "Orders copy"}, format="json")

    assert response.status_code == 201, response.json()
    copy_id = response.json()["flow"]["id"] if "flow" in response.json() else response.json()["id"]
    alerts = viewer_client.get(f"/api/flows/{copy_id}/alerts/").json()
    original = viewer_client.get(f"/api/flows/{alerting_flow.pk}/alerts/").json()
    assert sorted(alerts["channels"]) == sorted(original["channels"])
    assert alerts["outcomes"] == ["failed", "partial_success"]
    assert alerts["interval_minutes"] == 15
    assert alerts["error_flow"] == Flow.objects.get(name="On failure").pk


def test_import_names_every_missing_channel_and_error_flow_and_creates_nothing(
    editor_client, alerting_flow
) -> None:
    document = editor_client.get(f"/api/flows/{alerting_flow.pk}/export/").json()
    document["alerts"]["channels"] = ["Ops mail", "Pager"]
    document["alerts"]["error_flow"] = "Cleanup"
    flows_before = Flow.objects.count()

    response = editor_client.post("/api/flows/import/", {**document, "name": "Orders copy"}, format="json")

    assert response.status_code == 400
    messages = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert "Pager" in messages["alerts.channels"]
    assert "Cleanup" in messages["alerts.error_flow"]
    assert Flow.objects.count() == flows_before


@pytest.mark.parametrize(
    ("alerts", "field"),
    [
        ("loud", "alerts"),
        ({"channels": "Ops mail"}, "alerts.channels"),
        ({"outcomes": ["exploded"]}, "alerts.outcomes"),
        ({"interval_minutes": -5}, "alerts.interval_minutes"),
    ],
)
def test_bad_alert_sections_get_field_errors(editor_client, alerting_flow, alerts, field) -> None:
    document = editor_client.get(f"/api/flows/{alerting_flow.pk}/export/").json()
    document["alerts"] = alerts

    response = editor_client.post("/api/flows/import/", {**document, "name": "Orders copy"}, format="json")

    assert response.status_code == 400, response.json()
    assert field in {error["field"] for error in response.json()["errors"]}
    assert not Flow.objects.filter(name="Orders copy").exists()


def test_a_flow_without_alert_settings_exports_none_and_imports_none(editor_client) -> None:
    flow = create_flow(name="Quiet")
    document = editor_client.get(f"/api/flows/{flow.pk}/export/").json()
    assert document.get("alerts") is None

    response = editor_client.post("/api/flows/import/", {**document, "name": "Quiet copy"}, format="json")

    assert response.status_code == 201, response.json()
    assert not FlowAlertSettings.objects.filter(flow__name="Quiet copy").exists()
