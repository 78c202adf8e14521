"""Restoring a script version into the draft, and the flows that a new deployment of a script changes."""

from __future__ import annotations

import pytest

from designer.services import create_flow, deploy_flow
from scripts_app.models import Script, ScriptVersion

V1 = "def handle(data):\n    return data\n"
V2 = "def handle(data):\n    data['v'] = 2\n    return data\n"


@pytest.fixture
def script(db) -> Script:
    script = Script.objects.create(name="Tidy", code=V2)
    ScriptVersion.objects.create(script=script, number=1, code=V1, status=ScriptVersion.Status.INACTIVE)
    ScriptVersion.objects.create(script=script, number=2, code=V2, status=ScriptVersion.Status.DEPLOYED)
    return script


def _graph(script_id: int, version: int | None) -> dict:
    return {
        "shapes": [
            {"id": "trigger", "type": "trigger", "name": "Start", "position": {"x": 0, "y": 0},
             "settings": {"kind": "manual"}},
            {"id": "tidy", "type": "script", "name": "Tidy", "position": {"x": 200, "y": 0},
             "settings": {"script": script_id, "version": version}},
        ],
        "connections": [{"source": "trigger", "target": "tidy"}],
    }  # fmt: skip


def test_restore_copies_the_version_code_into_the_draft(editor_client, script):
    answer = editor_client.post(f"/api/scripts/{script.pk}/versions/1/restore/")

    assert answer.status_code == 200, answer.content
    assert answer.json()["code"] == V1
    script.refresh_from_db()
    assert script.code == V1
    # The versions are untouched: version 2 is still the deployed one.
    assert ScriptVersion.objects.get(script=script, status=ScriptVersion.Status.DEPLOYED).number == 2


def test_restoring_a_missing_version_is_404(editor_client, script):
    answer = editor_client.post(f"/api/scripts/{script.pk}/versions/9/restore/")

    assert answer.status_code == 404
    assert "no version 9" in answer.json()["detail"]


def test_viewers_cannot_restore(viewer_client, script):
    assert viewer_client.post(f"/api/scripts/{script.pk}/versions/1/restore/").status_code == 403


def test_used_by_lists_the_flows_and_those_following_the_latest_version(editor_client, script):
    latest = create_flow(name="Follows latest", graph=_graph(script.pk, None))
    deploy_flow(flow=latest)
    create_flow(name="Pinned", graph=_graph(script.pk, 1))
    create_flow(name="Unrelated")

    answer = editor_client.get(f"/api/scripts/{script.pk}/used-by/")

    assert answer.status_code == 200
    body = answer.json()
    assert [(f["name"], f["versions"]) for f in body["flows"]] == [
        ("Follows latest", ["draft", "deployed v1"]),
        ("Pinned", ["draft"]),
    ]
    assert [f["name"] for f in body["follows_latest"]] == ["Follows latest"]
