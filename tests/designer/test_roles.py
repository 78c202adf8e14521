"""Role enforcement on every designer route: admin and editor write, viewer reads, outsider and anonymous
get nothing."""

from __future__ import annotations

from typing import Any

import pytest

from designer.models import Connector, Flow
from tests.designer.conftest import chain

ACTORS = ["admin_client", "editor_client", "viewer_client", "outsider_client", "anonymous_client"]


def reads(flow: Flow, connector: Connector) -> list[str]:
    return [
        "/api/connectors/",
        f"/api/connectors/{connector.pk}/",
        "/api/endpoints/",
        "/api/flows/",
        f"/api/flows/{flow.pk}/",
        f"/api/flows/{flow.pk}/draft/",
        f"/api/flows/{flow.pk}/versions/",
        f"/api/flows/{flow.pk}/export/",
        "/api/shape-types/",
    ]


def writes(flow: Flow, connector: Connector) -> list[tuple[str, str, Any, int]]:
    """(method, path, body, success status)"""
    return [
        ("post", "/api/connectors/", {"name": "New", "base_url": "https://new.example.test"}, 201),
        ("patch", f"/api/connectors/{connector.pk}/", {"description": "changed"}, 200),
        ("post", "/api/endpoints/", {"connector": connector.pk, "name": "List"}, 201),
        ("post", "/api/flows/", {"name": "Another"}, 201),
        ("patch", f"/api/flows/{flow.pk}/", {"priority": 4}, 200),
        ("put", f"/api/flows/{flow.pk}/draft/", chain(), 200),
        ("post", f"/api/flows/{flow.pk}/deploy/", {}, 201),
        (
            "post",
            "/api/flows/import/",
            {
                "format": "patchbay.flow",
                "format_version": 1,
                "flow": {"name": "Imported"},
                "graph": chain(),
            },
            201,
        ),
        ("delete", f"/api/flows/{flow.pk}/", None, 204),
    ]


@pytest.mark.parametrize("actor", ACTORS)
def test_reads(request, actor, orders_flow, erp) -> None:
    client = request.getfixturevalue(actor)
    expected = {"anonymous_client": 401, "outsider_client": 403}.get(actor, 200)
    for path in reads(orders_flow, erp):
        response = client.get(path)
        assert response.status_code == expected, (path, response.content)
        if expected != 200:
            assert response.json()["errors"] == []


@pytest.mark.parametrize("actor", ACTORS)
def test_writes(request, actor, orders_flow, erp) -> None:
    client = request.getfixturevalue(actor)
    refused = {"anonymous_client": 401, "outsider_client": 403, "viewer_client": 403}.get(actor)
    for method, path, body, success in writes(orders_flow, erp):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == (refused or success), (method, path, response.content)
    if refused:
        assert Flow.objects.filter(pk=orders_flow.pk, priority=3).exists()
        assert list(Flow.objects.values_list("name", flat=True)) == ["Orders"]
        assert Connector.objects.get(pk=erp.pk).description == ""


def test_viewer_gets_a_clear_403(viewer_client, orders_flow) -> None:
    response = viewer_client.post(f"/api/flows/{orders_flow.pk}/deploy/", format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this action.", "errors": []}


def test_anonymous_gets_401_with_a_token_challenge(anonymous_client) -> None:
    response = anonymous_client.get("/api/flows/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
