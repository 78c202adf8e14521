"""Optimistic concurrency (issue 13 item 5): every write of a flow draft, a script draft or a connector
carries the revision it was based on; a stale one gets 409 with the current revision, and nothing is lost."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from designer.models import Flow
from designer.services import create_connector, create_flow

pytestmark = pytest.mark.django_db


def graph(name: str) -> dict[str, Any]:
    return {
        "shapes": [
            {"id": "trigger", "type": "trigger", "name": name, "position": {"x": 0, "y": 0},
             "settings": {"kind": "manual"}},
        ],
        "connections": [],
    }  # fmt: skip


@pytest.fixture
def flow(db) -> Flow:
    return create_flow(name="Orders", graph=graph("Start"))


def test_two_editors_of_one_draft_the_second_gets_409_with_the_current_revision(
    editor_client: APIClient, admin_client: APIClient, flow: Flow
) -> None:
    path = f"/api/flows/{flow.pk}/draft/"
    first = editor_client.get(path).json()
    second = admin_client.get(path).json()
    assert first["revision"] == second["revision"]

    saved = editor_client.put(path, {**graph("Erin's"), "revision": first["revision"]}, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["revision"] == first["revision"] + 1

    stale = admin_client.put(path, {**graph("Alice's"), "revision": second["revision"]}, format="json")
    assert stale.status_code == 409
    assert stale.json()["revision"] == first["revision"] + 1
    assert stale.json()["errors"][0]["field"] == "revision"
    assert editor_client.get(path).json()["shapes"][0]["name"] == "Erin's"

    # "Overwrite": the same edit based on the current revision.
    overwrite = admin_client.put(
        path, {**graph("Alice's"), "revision": stale.json()["revision"]}, format="json"
    )
    assert overwrite.status_code == 200
    assert editor_client.get(path).json()["shapes"][0]["name"] == "Alice's"


def test_a_draft_write_without_a_revision_is_accepted_for_older_clients(
    editor_client: APIClient, flow: Flow
) -> None:
    path = f"/api/flows/{flow.pk}/draft/"
    before = editor_client.get(path).json()["revision"]

    saved = editor_client.put(path, graph("Old client"), format="json")

    assert saved.status_code == 200 and saved.json()["revision"] == before + 1


def test_a_deploy_keeps_the_draft_revision_so_an_open_editor_saves_on(
    editor_client: APIClient, flow: Flow
) -> None:
    path = f"/api/flows/{flow.pk}/draft/"
    revision = editor_client.get(path).json()["revision"]
    assert editor_client.post(f"/api/flows/{flow.pk}/deploy/", {}, format="json").status_code == 201

    assert (
        editor_client.put(path, {**graph("After deploy"), "revision": revision}, format="json").status_code
        == 200
    )


def test_a_stale_script_draft_write_gets_409(editor_client: APIClient, admin_client: APIClient) -> None:
    created = editor_client.post(
        "/api/scripts/", {"name": "Tidy", "code": "def handle(data):\n    return data\n"}, format="json"
    )
    assert created.status_code == 201, created.json()
    script = created.json()
    path = f"/api/scripts/{script['id']}/"

    first = editor_client.patch(path, {"code": "# one\n", "revision": script["revision"]}, format="json")
    assert first.status_code == 200 and first.json()["revision"] == script["revision"] + 1
    stale = admin_client.patch(path, {"code": "# two\n", "revision": script["revision"]}, format="json")

    assert stale.status_code == 409
    assert stale.json()["revision"] == script["revision"] + 1
    assert editor_client.get(path).json()["code"] == "# one\n"


def test_a_stale_connector_write_gets_409(editor_client: APIClient, admin_client: APIClient) -> None:
    connector = create_connector(name="Shop", base_url="https://shop.example.test")
    path = f"/api/connectors/{connector.pk}/"
    current = editor_client.get(path).json()

    first = editor_client.patch(path, {"timeout": 10, "revision": current["revision"]}, format="json")
    assert first.status_code == 200, first.json()
    stale = admin_client.patch(path, {"timeout": 99, "revision": current["revision"]}, format="json")

    assert stale.status_code == 409
    assert stale.json()["revision"] == current["revision"] + 1
    assert editor_client.get(path).json()["timeout"] == 10


@pytest.mark.parametrize("revision", [0, -1, "two", 2**40])
def test_a_revision_that_is_not_a_positive_integer_is_400(
    editor_client: APIClient, flow: Flow, revision: Any
) -> None:
    response = editor_client.put(
        f"/api/flows/{flow.pk}/draft/", {**graph("x"), "revision": revision}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "revision"
