"""The first hour in the browser (issue 14), the smaller items: auto-layout of unconnected shapes, what
response code 2 does where it is chosen and written, the endpoint list's "used by" refusal, and the merged
fixes that had no browser test yet. Headless Chromium against a live server (see conftest.py); screenshots go
to test-artifacts/.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, log_in, screenshot

pytestmark = pytest.mark.browser

_names = itertools.count(1)

RESPONSE_SCRIPT = """def handle(data):
    data["response_code"] = 0
    return data
"""


def unique(prefix: str) -> str:
    return f"{prefix} {next(_names)}"


def _shape(shape_id: str, shape_type: str, name: str, x: int, y: int = 0, **settings: Any) -> dict[str, Any]:
    return {
        "id": shape_id,
        "type": shape_type,
        "name": name,
        "position": {"x": x, "y": y},
        "settings": settings,
    }


def _flow(
    server: LiveServer, graph: dict[str, Any], *, deploy: bool = False, **settings: Any
) -> dict[str, Any]:
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": unique("Flow"), **settings}).raise_for_status().json()
        api.put(f"/api/flows/{flow['id']}/draft/", json=graph).raise_for_status()
        if deploy:
            api.post(f"/api/flows/{flow['id']}/deploy/", json={}).raise_for_status()
        return dict(flow)


def _connector(server: LiveServer) -> tuple[dict[str, Any], dict[str, Any]]:
    with server.api() as api:
        connector = (
            api.post(
                "/api/connectors/",
                json={"name": unique("Shop"), "base_url": f"{server.url}/demo-api", "auth_type": "none"},
            )
            .raise_for_status()
            .json()
        )
        endpoint = (
            api.post(
                "/api/endpoints/",
                json={
                    "connector": connector["id"],
                    "name": unique("Get order"),
                    "method": "GET",
                    "path": "/orders/3",
                },
            )
            .raise_for_status()
            .json()
        )
        return connector, endpoint


def _response_script(server: LiveServer) -> dict[str, Any]:
    with server.api() as api:
        script = (
            api.post(
                "/api/scripts/",
                json={"name": unique("Check answer"), "kind": "response", "code": RESPONSE_SCRIPT},
            )
            .raise_for_status()
            .json()
        )
        api.post(f"/api/scripts/{script['id']}/deploy/").raise_for_status()
        return dict(script)


def _call_graph(
    connector: dict[str, Any], endpoint: dict[str, Any], script: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A manual trigger, then the connector shape "get" calling `endpoint` (judged by the latest deployed
    version of the response `script`, when given)."""
    judged = {"response_script": script["id"], "response_script_version": None} if script else {}
    return {
        "shapes": [
            _shape("trigger", "trigger", "Start", 0, kind="manual"),
            _shape(
                "get",
                "connector",
                "Get order",
                300,
                connector=connector["id"],
                endpoint=endpoint["id"],
                **judged,
            ),
        ],
        "connections": [{"source": "trigger", "target": "get"}],
    }


def _node(page: Page, shape_id: str) -> Any:
    return page.locator(f".react-flow__node[data-id='{shape_id}']")


def _box(page: Page, shape_id: str) -> dict[str, float]:
    box = _node(page, shape_id).bounding_box()
    assert box is not None, shape_id
    return box


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_auto_layout_parks_unconnected_shapes_in_a_row_below_the_flow(page: Page, server: LiveServer) -> None:
    # Everything dropped on one spot: the trigger and one map connected, three shapes not connected at all.
    ids = ["trigger", "tidy", "loose-1", "loose-2", "loose-3"]
    shapes = [_shape("trigger", "trigger", "Start", 0, kind="manual")]
    shapes += [_shape(i, "manual_payload", i.title(), 10, 10, payload="x") for i in ids[1:]]
    flow = _flow(server, {"shapes": shapes, "connections": [{"source": "trigger", "target": "tidy"}]})
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    expect(_node(page, "loose-3")).to_be_visible()

    page.get_by_role("button", name="Auto-layout").click()
    # The layout is saved with the draft: wait for it, then measure what is on the screen.
    expect(page.get_by_text("Draft saved")).to_be_visible()
    page.wait_for_timeout(400)  # the fit-view animation after the layout
    boxes = {i: _box(page, i) for i in ids}
    assert [(a, b) for a, b in itertools.combinations(ids, 2) if _overlap(boxes[a], boxes[b])] == []
    flow_bottom = max(boxes["trigger"]["y"] + boxes["trigger"]["height"], boxes["tidy"]["y"])
    loose = [boxes[i] for i in ids[2:]]
    # One row below the flow, left to right, not a column under the trigger.
    assert all(box["y"] >= flow_bottom for box in loose)
    assert len({round(box["y"]) for box in loose}) == 1
    assert loose[0]["x"] < loose[1]["x"] < loose[2]["x"]
    # A small flow is not blown up past its real size.
    scale = page.locator(".react-flow__viewport").evaluate(
        "el => new DOMMatrix(getComputedStyle(el).transform).a"
    )
    assert scale <= 1
    screenshot(page, "30-auto-layout-unconnected")


def test_what_code_2_does_is_shown_where_the_response_script_is_chosen_and_written(
    page: Page, server: LiveServer
) -> None:
    connector, endpoint = _connector(server)
    script = _response_script(server)
    graph = _call_graph(connector, endpoint, script)
    flow = _flow(server, graph, max_run_retries=0)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    _node(page, "get").click()
    hint = page.get_by_test_id("code-two-hint")
    expect(hint).to_have_text(
        "code 2: this flow allows no run retries, so code 2 fails the run for good: "
        "set run retries in the flow settings"
    )
    screenshot(page, "31-code-2-hint-in-the-connector-panel")

    # Allow two run retries in the flow settings: the hint follows.
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.get_by_label("Run retries (response code 2)").fill("2")
    page.get_by_role("button", name="Save flow settings").click()
    expect(page.get_by_text("Flow settings saved.")).to_be_visible()
    _node(page, "get").click()
    expect(hint).to_have_text("code 2: the run fails and is queued again; this flow allows 2 run retries")

    # Where code 2 is written: the response script's editor names what it does in the flows using it.
    page.goto(f"/scripts/{script['id']}")
    help_list = page.get_by_test_id("response-code-help")
    expect(help_list).to_contain_text(
        "code 2: the run fails and is queued again; this flow allows 2 run retries"
    )
    expect(help_list).to_contain_text("code 1: this attempt fails and the step is tried again")
    screenshot(page, "32-code-2-in-the-script-editor")


def test_deleting_an_endpoint_in_use_names_the_flows_with_links(page: Page, server: LiveServer) -> None:
    connector, endpoint = _connector(server)
    graph = _call_graph(connector, endpoint)
    user = _flow(server, graph)
    log_in(page, server)
    page.goto(f"/connectors/{connector['id']}")
    row = page.get_by_role("row").filter(has_text=endpoint["name"])
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    refusal = page.get_by_test_id("used-by-refusal")
    expect(refusal).to_contain_text(user["name"])
    expect(refusal.get_by_role("link", name=user["name"])).to_be_visible()
    # Refused: the endpoint is still listed.
    expect(row).to_be_visible()
    screenshot(page, "33-endpoint-delete-refused-used-by")
    refusal.get_by_role("link", name=user["name"]).click()
    page.wait_for_url(re.compile(rf"/flows/{user['id']}$"))


def _draft_code(server: LiveServer, script_id: int) -> str:
    with server.api() as api:
        return str(api.get(f"/api/scripts/{script_id}/").raise_for_status().json()["code"])


def _write(page: Page, code: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)


def test_leaving_the_script_editor_waits_for_the_save_and_keeps_the_edit_when_it_fails(
    page: Page, server: LiveServer
) -> None:
    with server.api() as api:
        script = api.post("/api/scripts/", json={"name": unique("Hold on")}).raise_for_status().json()
    log_in(page, server)
    page.goto(f"/scripts/{script['id']}")
    expect(page.locator(".cm-content")).to_contain_text("def handle(data):")

    # The server refuses the saves for now (a dropped connection, a proxy error, a restart...).
    failing = True

    def answer(route: Any) -> None:
        if failing and route.request.method == "PATCH":
            route.fulfill(
                status=503, content_type="application/json", body='{"detail": "Down for a moment."}'
            )
        else:
            route.continue_()

    page.route(f"**/api/scripts/{script['id']}/", answer)
    edit = "def handle(data):\n    data['kept'] = 'despite a failed save'\n    return data\n"
    _write(page, edit)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Flows").click()

    # The edit is not on the server, so the page stays and says so instead of dropping it on the way out.
    expect(page.get_by_test_id("leave-failed")).to_contain_text("Down for a moment.")
    assert page.url.endswith(f"/scripts/{script['id']}")
    assert "despite a failed save" not in _draft_code(server, script["id"])
    screenshot(page, "34-script-leave-save-failed")

    # Back up: the retry saves the edit, and only then does the link take the person on.
    failing = False
    page.get_by_role("button", name="Retry the save").click()
    page.wait_for_url(re.compile(r"/flows$"))
    assert _draft_code(server, script["id"]) == edit


def test_a_test_run_paints_the_shapes_of_the_draft_it_ran_not_the_canvas(
    page: Page, server: LiveServer
) -> None:
    graph = {
        "shapes": [
            _shape("trigger", "trigger", "Start", 0, kind="manual"),
            _shape("say", "manual_payload", "Say", 300, payload="tested"),
            _shape("second", "manual_payload", "Second", 600, payload="two"),
        ],
        "connections": [{"source": "trigger", "target": "say"}, {"source": "say", "target": "second"}],
    }
    flow = _flow(server, graph)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    page.get_by_role("button", name="Test run").click()
    dock = page.get_by_test_id("run-drawer")
    expect(dock.get_by_test_id("dock-runs-what")).to_have_text("test run of the draft")
    expect(dock.locator(".pill")).to_have_text("succeeded", timeout=30_000)
    for shape_id in ("trigger", "say", "second"):
        expect(_node(page, shape_id).get_by_test_id("shape-overlay")).to_contain_text("succeeded")
    expect(dock.get_by_test_id("dock-draft-differs")).to_have_count(0)

    # The canvas moves on from the snapshot the test run took: an edited shape is not the one that ran.
    _node(page, "second").click()
    page.get_by_test_id("shape-panel").get_by_label("Payload").fill("edited after the test run")
    expect(_node(page, "second").get_by_test_id("shape-overlay")).to_have_count(0)
    expect(_node(page, "say").get_by_test_id("shape-overlay")).to_contain_text("succeeded")
    expect(dock.get_by_test_id("dock-draft-differs")).to_contain_text(
        "showing the live status of the draft as this test run took it; the canvas changed since (1 shape"
    )
    screenshot(page, "35-test-run-paints-its-snapshot")


def _one_shape_flow(server: LiveServer, *, deploy: bool = True, **settings: Any) -> dict[str, Any]:
    graph = {
        "shapes": [
            _shape("trigger", "trigger", "Start", 0, kind="webhook"),
            _shape("say", "manual_payload", "Say", 300, **settings),
        ],
        "connections": [{"source": "trigger", "target": "say"}],
    }
    return _flow(server, graph, deploy=deploy)


def test_the_webhook_trigger_panel_shows_the_real_url_with_a_copy_button(
    page: Page, server: LiveServer
) -> None:
    flow = _one_shape_flow(server, payload="hello")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    _node(page, "trigger").click()
    url = page.get_by_test_id("trigger-webhook-url")
    # The address this server really answers on (host and port of the live server), not a placeholder.
    expect(url).to_have_text(re.compile(rf"^{re.escape(server.url)}/hooks/[\w-]+/$"))
    page.get_by_role("button", name="Copy the webhook URL").click()
    expect(page.get_by_test_id("shape-panel")).to_contain_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == url.inner_text()
    screenshot(page, "36-webhook-url-in-the-trigger-panel")
    # And it starts the deployed version.
    assert httpx.post(copied, content=b"{}", timeout=30).status_code < 300


def test_a_problem_line_selects_its_shape_and_brings_it_into_view(page: Page, server: LiveServer) -> None:
    graph = {
        "shapes": [
            _shape("trigger", "trigger", "Start", 0, kind="manual"),
            _shape("say", "manual_payload", "Say", 300, payload="x"),
            # Far off screen and not connected: "not reachable from the trigger".
            _shape("lost", "manual_payload", "Lost in space", 6000, 4000, payload="y"),
        ],
        "connections": [{"source": "trigger", "target": "say"}],
    }
    flow = _flow(server, graph)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    page.get_by_role("button", name="Validate").click()
    line = page.get_by_role("button", name=re.compile(r"^Lost in space\s*: .*not reachable"))
    expect(line).to_be_visible()
    # Named by the shape's name, not its id.
    expect(line).not_to_contain_text("lost:")
    line.click()
    expect(page.get_by_test_id("shape-panel")).to_have_attribute("data-shape-id", "lost")
    expect(_node(page, "lost")).to_have_class(re.compile(r"\bselected\b"))
    box = _box(page, "lost")
    canvas = page.locator(".canvas").bounding_box()
    assert canvas is not None
    assert canvas["x"] <= box["x"] and box["x"] + box["width"] <= canvas["x"] + canvas["width"]
    assert canvas["y"] <= box["y"] and box["y"] + box["height"] <= canvas["y"] + canvas["height"]
    screenshot(page, "37-problem-line-reveals-the-shape")


def test_an_empty_payload_says_empty_and_a_never_started_run_says_so(page: Page, server: LiveServer) -> None:
    flow = _one_shape_flow(server, payload="")
    with server.api() as api:
        run = api.post(f"/api/flows/{flow['id']}/runs/", json={}).raise_for_status().json()
    log_in(page, server)
    page.goto(f"/runs/{run['id']}")
    expect(page.locator(".pill").first).to_have_text("succeeded", timeout=30_000)
    page.locator(".step-item", has_text="Say").click()
    detail = page.get_by_test_id("step-detail")
    expect(detail).to_contain_text("0 bytes")
    expect(detail).to_contain_text("Empty payload")
    expect(detail).not_to_contain_text("Too large")
    screenshot(page, "38-empty-payload")


def test_the_runs_list_never_says_started_for_a_run_that_never_started(
    page: Page, server: LiveServer
) -> None:
    flow = _one_shape_flow(server, payload="x")
    # Due in an hour (as a retry backoff or a schedule would queue it), then stopped before it ever started.
    printed = server.manage(
        "shell",
        "-c",
        "from designer.models import Flow; from runs.lifecycle import enqueue_run; "
        f"flow = Flow.objects.get(pk={flow['id']}); "
        "print('RUN', enqueue_run(flow=flow, trigger='manual', delay_seconds=3600).pk)",
    )
    run_id = int(next(line.split()[1] for line in printed.splitlines() if line.startswith("RUN ")))
    run = {"id": run_id}
    with server.api() as api:
        api.post(f"/api/runs/{run_id}/stop/", json={}).raise_for_status()
    log_in(page, server)
    page.goto("/runs")
    row = page.locator(f"tr[data-run-id='{run['id']}']")
    expect(row).to_contain_text("never started")
    expect(row.locator(".pill")).to_have_text("stopped")
    # The run's own page: no start time either.
    page.goto(f"/runs/{run_id}")
    expect(page.get_by_text("never started")).to_be_visible()
    screenshot(page, "39-never-started-run")


def test_the_admin_titles_a_run_with_its_flows_name(page: Page, server: LiveServer) -> None:
    flow = _one_shape_flow(server, payload="x")
    with server.api() as api:
        run = api.post(f"/api/flows/{flow['id']}/runs/", json={}).raise_for_status().json()
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='ada-admin').update(is_staff=True)",
    )
    log_in(page, server, "ada-admin")
    page.goto(f"/admin/runs/run/{run['id']}/change/")
    title = page.locator("#content h2, #content h1").filter(has_text=f"Run {run['id']}")
    expect(title.first).to_contain_text(f"Run {run['id']} of {flow['name']}")
    # Not "Run 5 of 3", the flow's id, which reads as "the fifth of three runs".
    assert f"Run {run['id']} of {flow['id']} " not in page.locator("#content").inner_text()
    screenshot(page, "40-admin-run-title")


def test_starting_runs_one_after_another_does_not_pile_up_banners(page: Page, server: LiveServer) -> None:
    flow = _one_shape_flow(server, payload="x")
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    dock = page.get_by_test_id("run-drawer")
    seen: set[str] = set()
    for _ in range(3):
        page.get_by_role("button", name="Run now").click()
        # The dock moves on to the new run (its link changes) and shows it to the end.
        if seen:
            expect(dock.locator(".drawer-head a")).not_to_have_text(re.compile("^(" + "|".join(seen) + ")$"))
        expect(dock.locator(".pill")).to_have_text("succeeded", timeout=30_000)
        seen.add(dock.locator(".drawer-head a").inner_text())
    # Three runs, each shown in the dock in turn; no stack of "Run #N queued." notices above the canvas.
    assert len(seen) == 3
    expect(page.locator(".notice")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"Run #\d+ queued"))).to_have_count(0)
    screenshot(page, "41-no-banner-pile")


def test_box_select_selects_shapes_without_highlighting_page_text(page: Page, server: LiveServer) -> None:
    graph = {
        "shapes": [
            _shape("trigger", "trigger", "Start", 0, kind="manual"),
            _shape("say", "manual_payload", "Say", 300, payload="x"),
        ],
        "connections": [{"source": "trigger", "target": "say"}],
    }
    flow = _flow(server, graph)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    start, end = _box(page, "trigger"), _box(page, "say")
    page.keyboard.down("Shift")
    page.mouse.move(start["x"] - 30, start["y"] - 30)
    page.mouse.down()
    # Across both shapes and on over the palette's and the panel's text, as a quick sweep does.
    page.mouse.move(end["x"] + end["width"] + 20, end["y"] + end["height"] + 20, steps=10)
    page.mouse.move(1270, 790, steps=10)
    page.mouse.move(end["x"] + end["width"] + 20, end["y"] + end["height"] + 20, steps=10)
    page.mouse.up()
    page.keyboard.up("Shift")
    # (The canvas pans while the box is dragged past its edge, so the shapes may be out of view now.)
    expect(page.get_by_role("complementary", name="Settings")).to_contain_text("2 shapes selected")
    assert page.evaluate("() => window.getSelection()?.toString() ?? ''").strip() == ""
    screenshot(page, "42-box-select")


RETRY_LATER = """def handle(data):
    data["response_code"] = 1
    data["message"] = "Not ready yet, try again later"
    return data
"""


def test_a_run_waiting_for_a_step_retry_says_retrying_step_not_queued(page: Page, server: LiveServer) -> None:
    connector, endpoint = _connector(server)
    with server.api() as api:
        script = (
            api.post("/api/scripts/", json={"name": unique("Later"), "kind": "response", "code": RETRY_LATER})
            .raise_for_status()
            .json()
        )
        api.post(f"/api/scripts/{script['id']}/deploy/").raise_for_status()
    graph = {
        "shapes": [
            _shape("trigger", "trigger", "Start", 0, kind="manual"),
            _shape(
                "get",
                "connector",
                "Get order",
                300,
                connector=connector["id"],
                endpoint=endpoint["id"],
                # The test server caps retry backoffs at 1 s: ten retries keep the run waiting ~10 s.
                retries=10,
                response_script=script["id"],
                response_script_version=None,
            ),
        ],
        "connections": [{"source": "trigger", "target": "get"}],
    }
    flow = _flow(server, graph, deploy=True)
    with server.api() as api:
        run = api.post(f"/api/flows/{flow['id']}/runs/", json={}).raise_for_status().json()
    try:
        log_in(page, server)
        page.goto(f"/runs/{run['id']}")
        expect(page.locator("h1 .pill")).to_have_text("retrying step", timeout=30_000)
        expect(page.locator("h1 .pill")).not_to_have_text("queued")
        screenshot(page, "43-retrying-step")
    finally:
        with server.api() as api:
            api.post(f"/api/runs/{run['id']}/stop/", json={})


def _badge(page: Page, shape_id: str) -> str:
    badge = _node(page, shape_id).locator(".shape-error-badge")
    return badge.inner_text() if badge.count() else "0"


def test_server_problems_stay_through_unrelated_edits_and_go_with_the_edit_that_fixes_them(
    page: Page, server: LiveServer
) -> None:
    graph = {
        "shapes": [
            _shape("trigger", "trigger", "Start", 0, kind="manual"),
            # Only the server can tell: script 999999 does not exist.
            _shape("tidy", "script", "Tidy", 300, script=999999, version=None),
            _shape("say", "manual_payload", "Say", 600, payload="x"),
            _shape("lone", "manual_payload", "Lone", 600, 250, payload="y"),
        ],
        "connections": [{"source": "trigger", "target": "tidy"}, {"source": "tidy", "target": "say"}],
    }
    flow = _flow(server, graph)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    expect(_node(page, "tidy").locator(".shape-error-badge")).to_have_text("1")
    expect(_node(page, "lone").locator(".shape-error-badge")).to_have_text("1")

    # Renaming another shape: the server's problem on "tidy" never blinks out while the autosave runs.
    _node(page, "say").click()
    page.get_by_test_id("shape-panel").get_by_label("Name").fill("Say it")
    seen = set()
    for _ in range(30):
        seen.add(_badge(page, "tidy"))
        page.wait_for_timeout(50)
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    seen.add(_badge(page, "tidy"))
    assert seen == {"1"}

    # Connecting "lone" from "say" fixes "not reachable" at once (no stale problem on the edited shape).
    start = _node(page, "say").locator(".react-flow__handle.source").bounding_box()
    end = _node(page, "lone").locator(".react-flow__handle.target").bounding_box()
    assert start is not None and end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()
    expect(page.locator(".react-flow__edge[data-id='say->lone']")).to_have_count(1)
    assert _badge(page, "lone") == "0"
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    expect(_node(page, "lone").locator(".shape-error-badge")).to_have_count(0)
    expect(_node(page, "tidy").locator(".shape-error-badge")).to_have_text("1")
    screenshot(page, "44-server-problems-kept")

    # Editing another setting of the very shape (a connector's timeout): the server's problem about its
    # connector stays on it while the autosave runs, instead of vanishing for a second.
    with server.api() as api:
        draft = api.get(f"/api/flows/{flow['id']}/draft/").raise_for_status().json()
        draft["shapes"].append(_shape("get", "connector", "Get", 900, connector=999999, endpoint=None))
        draft["connections"].append({"source": "say", "target": "get"})
        api.put(f"/api/flows/{flow['id']}/draft/", json=draft).raise_for_status()
    page.reload()
    _node(page, "get").click()
    panel = page.get_by_test_id("shape-panel")
    missing = panel.get_by_text("refers to connector 999999, which does not exist")
    expect(missing).to_be_visible()
    panel.get_by_label("Timeout (s)").fill("12")
    shown = set()
    for _ in range(30):
        shown.add(missing.count())
        page.wait_for_timeout(50)
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    shown.add(missing.count())
    assert shown == {1}


def test_deploying_a_script_lists_the_flows_it_changes_and_the_test_says_what_the_code_does(
    page: Page, server: LiveServer
) -> None:
    connector, endpoint = _connector(server)
    script = _response_script(server)
    graph = _call_graph(connector, endpoint, script)
    follower = _flow(server, graph, deploy=True, max_run_retries=0)
    log_in(page, server)
    page.goto(f"/scripts/{script['id']}")
    expect(page.locator(".cm-content")).to_contain_text("response_code")
    _write(page, 'def handle(data):\n    data["response_code"] = 2\n    return data\n')
    expect(page.get_by_test_id("script-save-state")).to_have_text("Draft saved")

    # The test result says in one line what code 2 will do in the flow that uses the script.
    page.get_by_role("button", name="Run test").click()
    expect(page.get_by_test_id("response-code-summary")).to_have_text(
        "code 2: this flow allows no run retries, so code 2 fails the run for good: "
        "set run retries in the flow settings"
    )

    # Deploying asks first, naming every flow that follows the latest deployed version, with links.
    page.get_by_role("button", name="Deploy", exact=True).click()
    check = page.get_by_role("dialog", name="Flows this deploy changes")
    expect(check.get_by_test_id("deploy-follows-latest")).to_contain_text(follower["name"])
    expect(check.get_by_role("link", name=follower["name"])).to_have_attribute(
        "href", f"/flows/{follower['id']}"
    )
    screenshot(page, "45-script-deploy-lists-the-flows")
    check.get_by_role("button", name="Deploy anyway").click()
    expect(check).to_have_count(0)
    with server.api() as api:
        versions = api.get(f"/api/scripts/{script['id']}/versions/").json()
    numbers = [v["number"] for v in (versions["results"] if isinstance(versions, dict) else versions)]
    assert 2 in numbers


def test_the_run_dock_follows_the_queued_retry_of_a_run(page: Page, server: LiveServer) -> None:
    connector, endpoint = _connector(server)
    with server.api() as api:
        script = (
            api.post(
                "/api/scripts/",
                json={
                    "name": unique("Again"),
                    "kind": "response",
                    "code": 'def handle(data):\n    data["response_code"] = 2\n    return data\n',
                },
            )
            .raise_for_status()
            .json()
        )
        api.post(f"/api/scripts/{script['id']}/deploy/").raise_for_status()
    graph = _call_graph(connector, endpoint, script)
    flow = _flow(server, graph, deploy=True, max_run_retries=1)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    page.get_by_role("button", name="Run now").click()
    dock = page.get_by_test_id("run-drawer")
    link = dock.locator(".drawer-head a")
    expect(link).to_have_text(re.compile(r"#\d+"))
    # Code 2 fails the run and queues attempt 2 as a new run: the dock moves on to it by itself. (On a fast
    # machine the first run can already be over when the dock first shows, so its id comes from the API.)
    expect(dock.get_by_test_id("dock-runs-what")).to_contain_text("attempt 2", timeout=30_000)
    with server.api() as api:
        runs = api.get("/api/runs/", params={"flow": flow["id"]}).raise_for_status().json()
    attempts = {run["attempt"]: run["id"] for run in runs.get("results", runs)}
    first, second = attempts[1], attempts[2]
    expect(link).to_have_text(f"#{second}")
    expect(dock.locator(".pill")).to_have_text("failed", timeout=30_000)
    screenshot(page, "46-run-dock-follows-the-retry")

    # The first run's log names its retry as a link, not as plain text.
    page.goto(f"/runs/{first}")
    retry_link = page.get_by_test_id("run-log").get_by_role("link", name=re.compile(rf"\b{second}\b"))
    expect(retry_link.first).to_have_attribute("href", f"/runs/{second}")


def test_leaving_the_designer_waits_for_the_draft_save_and_keeps_the_edit_when_it_fails(
    page: Page, server: LiveServer
) -> None:
    flow = _one_shape_flow(server, deploy=False, payload="x")
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    expect(_node(page, "say")).to_be_visible()
    failing = True

    def answer(route: Any) -> None:
        if failing and route.request.method == "PUT":
            route.fulfill(
                status=503, content_type="application/json", body='{"detail": "Down for a moment."}'
            )
        else:
            route.continue_()

    page.route(f"**/api/flows/{flow['id']}/draft/", answer)
    _node(page, "say").click()
    page.get_by_test_id("shape-panel").get_by_label("Name").fill("Renamed before leaving")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()

    expect(page.get_by_test_id("leave-failed")).to_contain_text("Down for a moment.")
    assert page.url.endswith(f"/flows/{flow['id']}")
    screenshot(page, "47-designer-leave-save-failed")

    failing = False
    page.get_by_role("button", name="Retry the save").click()
    page.wait_for_url(re.compile(r"/runs$"))
    with server.api() as api:
        draft = api.get(f"/api/flows/{flow['id']}/draft/").raise_for_status().json()
    assert {s["id"]: s["name"] for s in draft["shapes"]}["say"] == "Renamed before leaving"
