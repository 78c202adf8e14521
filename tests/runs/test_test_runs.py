"""Test runs of a flow's draft: `POST /api/flows/{id}/test-run/` runs the canvas as it is, undeployed."""

from __future__ import annotations

from designer.models import FlowVersion
from designer.services import save_draft
from runs.models import LogLine, Run
from tests.runs.conftest import run_once, shape


def _say(text: str) -> list[dict]:
    return [shape("say", "manual_payload", payload=text)]


def _draft_saying(flow, text: str) -> None:
    graph = {
        "shapes": [shape("trigger", "trigger", kind="manual"), *_say(text)],
        "connections": [{"source": "trigger", "target": "say"}],
    }
    save_draft(flow=flow, graph=graph)


def test_a_test_run_runs_the_draft_not_the_deployed_version(make_flow, editor_client):
    flow = make_flow(_say("deployed"))
    _draft_saying(flow, "draft")

    answer = editor_client.post(f"/api/flows/{flow.pk}/test-run/", {"payload": "{}"}, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["is_test"] is True
    assert body["flow_version_number"] is None
    run = run_once(Run.objects.get(pk=body["id"]))
    assert (run.status, run.final_payload) == (Run.Status.SUCCEEDED, "draft")
    assert LogLine.objects.filter(run=run, message__contains="test run of the draft").exists()
    # Nothing was deployed: the flow's deployed version is still the first one.
    assert FlowVersion.objects.get(flow=flow, status=FlowVersion.Status.DEPLOYED).number == 1


def test_a_test_run_keeps_the_draft_it_started_with(make_flow, editor_client):
    flow = make_flow(_say("deployed"))
    _draft_saying(flow, "first draft")
    run_id = editor_client.post(f"/api/flows/{flow.pk}/test-run/", {}, format="json").json()["id"]

    _draft_saying(flow, "edited while queued")
    run = run_once(Run.objects.get(pk=run_id))

    assert run.final_payload == "first draft"


def test_run_now_still_runs_the_deployed_version(make_flow, editor_client):
    flow = make_flow(_say("deployed"))
    _draft_saying(flow, "draft")

    body = editor_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json").json()

    assert body["is_test"] is False
    assert run_once(Run.objects.get(pk=body["id"])).final_payload == "deployed"


def test_test_runs_are_marked_in_the_runs_list_and_detail(make_flow, editor_client):
    flow = make_flow(_say("deployed"))
    test_id = editor_client.post(f"/api/flows/{flow.pk}/test-run/", {}, format="json").json()["id"]
    real_id = editor_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json").json()["id"]

    listed = {run["id"]: run["is_test"] for run in editor_client.get("/api/runs/").json()["results"]}
    detail = editor_client.get(f"/api/runs/{test_id}/").json()

    assert listed == {test_id: True, real_id: False}
    assert detail["is_test"] is True


def test_a_test_run_of_a_never_deployed_disabled_flow_is_allowed(editor_client):
    flow_id = editor_client.post("/api/flows/", {"name": "New", "enabled": False}, format="json").json()["id"]

    answer = editor_client.post(f"/api/flows/{flow_id}/test-run/", {}, format="json")

    assert answer.status_code == 201, answer.content
    assert run_once(Run.objects.get(pk=answer.json()["id"])).status == Run.Status.SUCCEEDED


def test_an_invalid_draft_is_refused_with_its_errors(make_flow, editor_client):
    flow = make_flow(_say("deployed"))
    save_draft(
        flow=flow,
        graph={
            "shapes": [shape("trigger", "trigger", kind="manual"), shape("lost", "manual_payload")],
            "connections": [],
        },
    )

    answer = editor_client.post(f"/api/flows/{flow.pk}/test-run/", {}, format="json")

    assert answer.status_code == 400
    assert {error["shape"] for error in answer.json()["errors"]} >= {"lost"}
    assert not Run.objects.filter(flow=flow).exists()


def test_bad_test_run_input_is_a_field_error(make_flow, editor_client):
    flow = make_flow(_say("deployed"))

    answer = editor_client.post(f"/api/flows/{flow.pk}/test-run/", {"variables": "nope"}, format="json")

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "variables"


def test_viewers_cannot_start_a_test_run(make_flow, viewer_client):
    flow = make_flow(_say("deployed"))

    assert viewer_client.post(f"/api/flows/{flow.pk}/test-run/", {}, format="json").status_code == 403


def test_the_draft_says_whether_it_differs_from_the_deployed_version(make_flow, editor_client):
    flow = make_flow(_say("deployed"))
    same = editor_client.get(f"/api/flows/{flow.pk}/draft/").json()

    moved = {**same, "shapes": [{**s, "position": {"x": 500, "y": 90}} for s in same["shapes"]]}
    after_move = editor_client.put(f"/api/flows/{flow.pk}/draft/", moved, format="json").json()
    changed = {
        **same,
        "revision": after_move["revision"],
        "shapes": [*same["shapes"][:1], {**same["shapes"][1], "settings": {"payload": "x"}}],
    }
    after_edit = editor_client.put(f"/api/flows/{flow.pk}/draft/", changed, format="json").json()

    assert (same["deployed_version"], same["differs_from_deployed"]) == (1, False)
    assert after_move["differs_from_deployed"] is False
    assert after_edit["differs_from_deployed"] is True


def test_retrying_a_failed_test_run_runs_the_same_draft_snapshot(make_flow, editor_client):
    flow = make_flow(_say("deployed"))
    save_draft(
        flow=flow,
        graph={
            "shapes": [
                shape("trigger", "trigger", kind="manual"),
                shape("check", "assert", conditions=[{"path": "missing", "operator": "exists"}]),
            ],
            "connections": [{"source": "trigger", "target": "check"}],
        },
    )
    failed = run_once(
        Run.objects.get(
            pk=editor_client.post(f"/api/flows/{flow.pk}/test-run/", {}, format="json").json()["id"]
        )
    )
    _draft_saying(flow, "edited after the test run")

    answer = editor_client.post(f"/api/runs/{failed.pk}/retry/", {}, format="json")

    assert failed.status == Run.Status.FAILED
    assert answer.status_code == 201, answer.content
    retry = run_once(Run.objects.get(pk=answer.json()["id"]))
    assert (retry.is_test, retry.status) == (True, Run.Status.FAILED)


def test_a_runs_graph_is_the_draft_snapshot_of_a_test_run_and_the_version_of_a_real_one(
    make_flow, editor_client, viewer_client
):
    flow = make_flow(_say("deployed"))
    _draft_saying(flow, "first draft")
    test_id = editor_client.post(f"/api/flows/{flow.pk}/test-run/", {}, format="json").json()["id"]
    real_id = editor_client.post(f"/api/flows/{flow.pk}/runs/", {}, format="json").json()["id"]
    _draft_saying(flow, "edited since")

    tested = viewer_client.get(f"/api/runs/{test_id}/graph/")
    real = viewer_client.get(f"/api/runs/{real_id}/graph/").json()

    assert tested.status_code == 200, tested.content
    body = tested.json()
    assert (body["is_test"], body["flow_version_number"]) == (True, None)
    payloads = {s["id"]: s["settings"].get("payload") for s in body["graph"]["shapes"]}
    assert payloads["say"] == "first draft"
    assert (real["is_test"], real["flow_version_number"]) == (False, 1)
    assert {s["id"]: s["settings"].get("payload") for s in real["graph"]["shapes"]}["say"] == "deployed"
    assert viewer_client.get("/api/runs/999999/graph/").status_code == 404


def test_the_schema_says_a_runs_version_number_may_be_null(editor_client):
    """A test run's snapshot has no version number: the documented response must allow what it sends."""
    schema = editor_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for name in ("Run", "RunDetail"):
        field = schema["components"]["schemas"][name]["properties"]["flow_version_number"]
        assert field.get("nullable") is True or "null" in (field.get("type") or []), (name, field)
