"""The alert API: notification channels (CRUD, secrets write-only), a flow's alert settings, deliveries."""

from __future__ import annotations

import pytest

from designer.services import create_flow
from notifications.models import NotificationChannel
from notifications.services import channel_secret

pytestmark = pytest.mark.django_db


def test_editor_manages_channels_and_secrets_are_never_returned(editor_client, viewer_client):
    created = editor_client.post(
        "/api/notification-channels/",
        {
            "name": "Ops hook",
            "kind": "webhook",
            "config": {"url": "https://hooks.example.test/x"},
            "secret": "webhook-signing-secret-1",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "secret" not in body and body["has_secret"] is True
    assert body["config"] == {"url": "https://hooks.example.test/x", "headers": {}}

    listed = viewer_client.get("/api/notification-channels/").json()
    assert [channel["name"] for channel in listed] == ["Ops hook"] and "secret" not in listed[0]

    changed = editor_client.patch(
        f"/api/notification-channels/{body['id']}/", {"enabled": False}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["has_secret"] is True  # kept when not sent
    stored = NotificationChannel.objects.get()
    assert "webhook-signing-secret-1" not in stored.secret  # encrypted at rest
    assert channel_secret(stored) == "webhook-signing-secret-1"
    assert editor_client.delete(f"/api/notification-channels/{body['id']}/").status_code == 204


def test_viewers_read_but_may_not_write_channels(viewer_client):
    response = viewer_client.post(
        "/api/notification-channels/",
        {"name": "x", "kind": "email", "config": {"to": ["a@b.test"]}},
        format="json",
    )
    assert response.status_code == 403
    assert viewer_client.get("/api/notification-channels/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "m", "kind": "email", "config": {"to": []}}, "config"),
        ({"name": "m", "kind": "email", "config": {"to": ["not an address"]}}, "config"),
        ({"name": "w", "kind": "webhook", "config": {"url": "ftp://x"}}, "config"),
        ({"name": "a", "kind": "apprise", "config": {}}, "secret"),
        ({"name": "a", "kind": "apprise", "config": {}, "secret": "nonsense://what"}, "secret"),
        ({"name": "k", "kind": "pager", "config": {}}, "kind"),
    ],
)
def test_bad_channels_get_field_errors(editor_client, body, field):
    response = editor_client.post("/api/notification-channels/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in {error["field"] for error in response.json()["errors"]}


def test_a_flows_alert_settings_are_read_and_written(editor_client, viewer_client):
    flow = create_flow(name="Orders")
    handler = create_flow(name="On failure")
    channel = editor_client.post(
        "/api/notification-channels/",
        {"name": "Mail", "kind": "email", "config": {"to": ["ops@x.test"]}},
        format="json",
    ).json()

    default = viewer_client.get(f"/api/flows/{flow.pk}/alerts/").json()
    assert default["channels"] == [] and default["outcomes"] == ["failed", "retries_exhausted"]

    saved = editor_client.put(
        f"/api/flows/{flow.pk}/alerts/",
        {
            "channels": [channel["id"]],
            "outcomes": ["failed", "partial_success"],
            "interval_minutes": 15,
            "error_flow": handler.pk,
        },
        format="json",
    )
    assert saved.status_code == 200, saved.json()
    again = viewer_client.get(f"/api/flows/{flow.pk}/alerts/").json()
    assert again["channels"] == [channel["id"]] and again["interval_minutes"] == 15
    assert again["outcomes"] == ["failed", "partial_success"] and again["error_flow"] == handler.pk
    assert viewer_client.put(f"/api/flows/{flow.pk}/alerts/", again, format="json").status_code == 403


def test_bad_alert_settings_get_field_errors(editor_client):
    flow = create_flow(name="Orders")
    response = editor_client.put(
        f"/api/flows/{flow.pk}/alerts/",
        {"channels": [999], "outcomes": ["exploded"], "interval_minutes": -1, "error_flow": flow.pk},
        format="json",
    )
    assert response.status_code == 400
    assert {e["field"].split(".")[0] for e in response.json()["errors"]} >= {
        "channels",
        "outcomes",
        "interval_minutes",
    }
    own = editor_client.put(
        f"/api/flows/{flow.pk}/alerts/",
        {"channels": [], "outcomes": [], "interval_minutes": 5, "error_flow": flow.pk},
        format="json",
    )
    assert own.status_code == 400 and own.json()["errors"][0]["field"] == "error_flow"


def test_alert_deliveries_are_listed_read_only(viewer_client):
    assert viewer_client.get("/api/alert-deliveries/?flow=1").status_code == 200
    assert viewer_client.get("/api/alert-deliveries/?flow=x").status_code == 400
    assert viewer_client.post("/api/alert-deliveries/", {}, format="json").status_code in (403, 405)
