"""The first hour in the browser (issue 14), in headless Chromium against a live server (see conftest.py):
no lost script edits, flow import / export, delete and duplicate with the "used by" refusal, and the
canvas staples (draft-differs indicator and test runs, quick-add, the minimap beside the run dock).
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, log_in, screenshot

pytestmark = pytest.mark.browser

_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix} {next(_names)}"


def _shape(shape_id: str, shape_type: str, name: str, x: int, **settings: Any) -> dict[str, Any]:
    return {
        "id": shape_id,
        "type": shape_type,
        "name": name,
        "position": {"x": x, "y": 0},
        "settings": settings,
    }


def _graph(*shapes: dict[str, Any]) -> dict[str, Any]:
    every = [_shape("trigger", "trigger", "Start", 0, kind="manual"), *shapes]
    return {
        "shapes": every,
        "connections": [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(every)],
    }


def _flow(server: LiveServer, graph: dict[str, Any], *, deploy: bool = False) -> dict[str, Any]:
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": unique("Flow")}).raise_for_status().json()
        api.put(f"/api/flows/{flow['id']}/draft/", json=graph).raise_for_status()
        if deploy:
            api.post(f"/api/flows/{flow['id']}/deploy/", json={}).raise_for_status()
        return flow


def _write(page: Page, code: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)


def _draft_code(server: LiveServer, script_id: int) -> str:
    with server.api() as api:
        return str(api.get(f"/api/scripts/{script_id}/").raise_for_status().json()["code"])


def _wait_for_draft(server: LiveServer, script_id: int, code: str) -> None:
    """The draft is on the server (the link waits for the save before it changes the page)."""
    for _ in range(100):
        if _draft_code(server, script_id) == code:
            return
        time.sleep(0.1)
    assert _draft_code(server, script_id) == code


def test_a_script_edit_survives_leaving_through_a_link_and_a_reload(page: Page, server: LiveServer) -> None:
    with server.api() as api:
        script = api.post("/api/scripts/", json={"name": unique("Keep me")}).raise_for_status().json()
    log_in(page, server)
    page.goto(f"/scripts/{script['id']}")
    expect(page.locator(".cm-content")).to_contain_text("def handle(data):")

    # Leave through an app link straight after typing: the draft is saved before the page changes.
    first = "def handle(data):\n    data['edited'] = 'through a link'\n    return data\n"
    _write(page, first)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Flows").click()
    page.wait_for_url(re.compile(r"/flows$"))
    _wait_for_draft(server, script["id"], first)
    page.go_back()
    expect(page.locator(".cm-content")).to_contain_text("through a link")

    # A reload straight after typing asks first; the draft saves itself meanwhile and survives the reload.
    second = "def handle(data):\n    data['edited'] = 'before a reload'\n    return data\n"
    _write(page, second)
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    # Not page.reload(): it would wait for a navigation that the dismissed question cancels.
    page.evaluate("() => { location.reload(); }")
    expect(page.get_by_test_id("script-save-state")).to_have_text("Draft saved")
    assert asked == ["beforeunload"]
    page.remove_listener("dialog", dismiss)
    page.reload()
    expect(page.locator(".cm-content")).to_contain_text("before a reload")
    assert _draft_code(server, script["id"]) == second
    screenshot(page, "20-script-editor-saved")


def test_script_versions_compare_and_restore(page: Page, server: LiveServer) -> None:
    first = "def handle(data):\n    return data\n"
    with server.api() as api:
        script = (
            api.post("/api/scripts/", json={"name": unique("Versions"), "code": first})
            .raise_for_status()
            .json()
        )
        api.post(f"/api/scripts/{script['id']}/deploy/").raise_for_status()
        api.patch(f"/api/scripts/{script['id']}/", json={"code": "def handle(data):\n    return {}\n"})
    log_in(page, server)
    page.goto(f"/scripts/{script['id']}")
    page.get_by_role("button", name="Compare v1 with the draft").click()
    diff = page.get_by_test_id("script-diff")
    expect(diff.locator(".diff-removed")).to_have_text("-    return data")
    expect(diff.locator(".diff-added")).to_have_text("+    return {}")
    screenshot(page, "21-script-version-diff")
    page.get_by_role("button", name="Restore version 1").click()
    expect(page.get_by_text("Version 1 is restored into the draft")).to_be_visible()
    expect(page.locator(".cm-content")).to_contain_text("return data")
    assert _draft_code(server, script["id"]) == first


def test_export_and_import_a_flow_through_the_ui(page: Page, server: LiveServer, tmp_path: Path) -> None:
    original = _flow(server, _graph(_shape("say", "manual_payload", "Say hello", 260, payload="hello")))
    log_in(page, server)

    with page.expect_download() as download_info:
        page.get_by_role("button", name=f"Export {original['name']}").click()
    exported = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(exported)
    document = json.loads(exported.read_text())
    assert document["format"] == "patchbay.flow"
    assert [s["name"] for s in document["graph"]["shapes"]] == ["Start", "Say hello"]

    page.get_by_test_id("import-flow-file").set_input_files(str(exported))
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    imported_id = int(page.url.rsplit("/", 1)[1])
    assert imported_id != original["id"]
    expect(page.locator(".react-flow__node")).to_have_count(2)
    with server.api() as api:
        imported = api.get(f"/api/flows/{imported_id}/").json()
        before = api.get(f"/api/flows/{original['id']}/draft/").json()
        after = api.get(f"/api/flows/{imported_id}/draft/").json()
    assert imported["name"] == f"{original['name']} (imported)"
    assert [(s["id"], s["type"], s["settings"]) for s in after["shapes"]] == [
        (s["id"], s["type"], s["settings"]) for s in before["shapes"]
    ]
    assert after["connections"] == before["connections"]
    screenshot(page, "22-imported-flow")


def test_deleting_a_script_in_use_names_the_flows_and_a_copy_can_be_deleted(
    page: Page, server: LiveServer
) -> None:
    with server.api() as api:
        script = (
            api.post(
                "/api/scripts/",
                json={"name": unique("Shared tidy"), "code": "def handle(data):\n    return data\n"},
            )
            .raise_for_status()
            .json()
        )
        api.post(f"/api/scripts/{script['id']}/deploy/").raise_for_status()
    user = _flow(server, _graph(_shape("tidy", "script", "Tidy", 260, script=script["id"], version=None)))
    log_in(page, server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scripts").click()

    page.get_by_role("button", name=f"Duplicate {script['name']}").click()
    copy_name = f"{script['name']} (copy)"
    expect(page.get_by_role("link", name=copy_name)).to_be_visible()
    page.get_by_role("button", name=f"Delete {copy_name}").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("link", name=copy_name)).to_have_count(0)

    page.get_by_role("button", name=f"Delete {script['name']}").click()
    page.get_by_role("button", name="Yes, delete").click()
    refusal = page.get_by_test_id("used-by-refusal")
    expect(refusal).to_contain_text(f"is used by the flows '{user['name']}'")
    expect(refusal.get_by_role("link", name=user["name"])).to_be_visible()
    expect(page.get_by_role("link", name=script["name"], exact=True)).to_be_visible()
    screenshot(page, "23-delete-refused-used-by")

    refusal.get_by_role("link", name=user["name"]).click()
    page.wait_for_url(re.compile(rf"/flows/{user['id']}$"))


def _node(page: Page, shape_id: str) -> Any:
    return page.locator(f".react-flow__node[data-id='{shape_id}']")


def _dock_run_id(page: Page) -> int:
    link = page.get_by_test_id("run-drawer").locator(".drawer-head a")
    expect(link).to_have_text(re.compile(r"#\d+"))
    return int(link.inner_text().lstrip("#"))


def test_the_draft_differs_indicator_and_a_test_run_of_the_draft(page: Page, server: LiveServer) -> None:
    flow = _flow(server, _graph(_shape("say", "manual_payload", "Say", 300, payload="deployed")), deploy=True)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    state = page.get_by_test_id("draft-state")
    expect(state).to_have_text("deployed v1 = draft")

    _node(page, "say").click()
    page.get_by_test_id("shape-panel").get_by_label("Payload").fill("from the draft")
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    expect(state).to_have_text("draft differs from deployed v1")

    # Run now with undeployed changes asks what to run.
    page.get_by_role("button", name="Run now").click()
    menu = page.get_by_role("menu", name="What to run")
    expect(menu.get_by_role("menuitem")).to_have_text(
        ["Deploy and run", "Test run of the draft", "Run deployed v1"]
    )
    screenshot(page, "24-run-now-with-undeployed-changes")
    menu.get_by_role("menuitem", name="Test run of the draft").click()
    dock = page.get_by_test_id("run-drawer")
    expect(dock.get_by_test_id("dock-runs-what")).to_have_text("test run of the draft")
    expect(dock.locator(".pill")).to_have_text("succeeded", timeout=30_000)
    expect(_node(page, "say").get_by_test_id("shape-overlay")).to_contain_text("succeeded")
    test_run = _dock_run_id(page)
    with server.api() as api:
        run = api.get(f"/api/runs/{test_run}/").json()
        assert (run["is_test"], run["final_payload"]) == (True, "from the draft")
        assert api.get(f"/api/flows/{flow['id']}/").json()["deployed_version"] == 1
    screenshot(page, "25-test-run-of-the-draft")

    # Deploy and run: the draft becomes v2 and the run runs it.
    page.get_by_role("button", name="Run now").click()
    page.get_by_role("menuitem", name="Deploy and run").click()
    expect(state).to_have_text("deployed v2 = draft")
    expect(dock.get_by_test_id("dock-runs-what")).to_have_text("deployed v2")
    expect(dock.locator(".pill")).to_have_text("succeeded", timeout=30_000)
    deployed_run = _dock_run_id(page)
    assert deployed_run != test_run
    with server.api() as api:
        run = api.get(f"/api/runs/{deployed_run}/").json()
        assert (run["is_test"], run["flow_version_number"], run["final_payload"]) == (
            False,
            2,
            "from the draft",
        )

    # The runs list marks the test run.
    page.goto("/runs")
    expect(page.locator(f"tr[data-run-id='{test_run}'] .test-badge")).to_have_text("test run")
    expect(page.locator(f"tr[data-run-id='{deployed_run}'] .test-badge")).to_have_count(0)


def test_a_run_of_the_deployed_version_paints_only_the_shapes_it_runs(page: Page, server: LiveServer) -> None:
    deployed = _graph(
        _shape("say", "manual_payload", "Say", 300, payload="deployed"),
        _shape("second", "manual_payload", "Second", 600, payload="two"),
    )
    flow = _flow(server, deployed, deploy=True)
    # The draft keeps "say", replaces "second" by another shape under the same id and adds "extra".
    draft = _graph(
        _shape("say", "manual_payload", "Say", 300, payload="deployed"),
        _shape("second", "manual_payload", "Second", 600, payload="only in the draft"),
        _shape("extra", "manual_payload", "Extra", 900, payload="also only in the draft"),
    )
    with server.api() as api:
        api.put(f"/api/flows/{flow['id']}/draft/", json=draft).raise_for_status()
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    expect(page.get_by_test_id("draft-state")).to_have_text("draft differs from deployed v1")

    page.get_by_role("button", name="Run now").click()
    page.get_by_role("menu", name="What to run").get_by_role("menuitem", name="Run deployed v1").click()
    dock = page.get_by_test_id("run-drawer")
    expect(dock.get_by_test_id("dock-runs-what")).to_have_text("deployed v1")
    expect(dock.locator(".pill")).to_have_text("succeeded", timeout=30_000)
    expect(_node(page, "say").get_by_test_id("shape-overlay")).to_contain_text("succeeded")
    with server.api() as api:
        run = api.get(f"/api/runs/{_dock_run_id(page)}/").json()
        steps = {step["shape_id"] for step in run["steps"]}
        assert {"say", "second"} <= steps, steps
    # "second" ran in v1, but the canvas's "second" is not that shape: no status on it, nor on "extra".
    expect(_node(page, "second").get_by_test_id("shape-overlay")).to_have_count(0)
    expect(_node(page, "extra").get_by_test_id("shape-overlay")).to_have_count(0)
    expect(dock.get_by_test_id("dock-draft-differs")).to_contain_text(
        "showing the live status of deployed v1; the draft differs (2 shapes"
    )
    screenshot(page, "29-run-of-deployed-version-beside-a-differing-draft")

    # Editing a shape that ran makes it another shape than the one that ran: it loses its status.
    _node(page, "say").click()
    page.get_by_test_id("shape-panel").get_by_label("Payload").fill("edited in the draft")
    expect(_node(page, "say").get_by_test_id("shape-overlay")).to_have_count(0)
    expect(dock.get_by_test_id("dock-draft-differs")).to_contain_text("the draft differs (3 shapes")


def test_quick_add_inserts_after_the_selection_and_connects_it(page: Page, server: LiveServer) -> None:
    flow = _flow(server, _graph(_shape("say", "manual_payload", "Say", 300, payload="x")))
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(2)

    _node(page, "say").click()
    page.keyboard.press("Tab")
    search = page.get_by_role("combobox", name="Search shapes")
    expect(search).to_have_attribute("placeholder", "Add a shape after “Say”…")
    search.fill("map")
    screenshot(page, "26-quick-add")
    page.keyboard.press("Enter")
    # The view follows the new shape (the canvas draws only what is in view, so count on the server).
    expect(page.locator(".react-flow__node[data-id^='map']")).to_be_visible()
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    with server.api() as api:
        draft = api.get(f"/api/flows/{flow['id']}/draft/").json()
    added = next(s for s in draft["shapes"] if s["type"] == "map")
    say = next(s for s in draft["shapes"] if s["id"] == "say")
    assert {"source": "say", "target": added["id"]} in draft["connections"]
    assert added["position"]["x"] > say["position"]["x"] + 200
    # The new shape is selected, so Ctrl+K adds the next one after it.
    page.keyboard.press("Control+k")
    page.get_by_role("combobox", name="Search shapes").fill("filter")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    with server.api() as api:
        draft = api.get(f"/api/flows/{flow['id']}/draft/").json()
    assert len(draft["shapes"]) == 4
    second = next(s for s in draft["shapes"] if s["type"] == "filter")
    assert {"source": added["id"], "target": second["id"]} in draft["connections"]
    expect(_node(page, second["id"])).to_be_visible()
    page.get_by_role("button", name="Fit", exact=True).click()
    expect(page.locator(".react-flow__node")).to_have_count(4)

    # Ctrl+A selects every shape, and no page text.
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+a")
    expect(page.locator(".react-flow__node.selected")).to_have_count(4)
    expect(page.get_by_text("4 shapes selected")).to_be_visible()
    assert page.evaluate("() => String(window.getSelection())") == ""

    # ? shows the shortcut sheet.
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("?")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(sheet).to_contain_text("Tab or Ctrl+K")
    screenshot(page, "27-shortcut-sheet")
    sheet.get_by_role("button", name="Close").click()
    expect(sheet).to_have_count(0)


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_minimap_never_covers_a_shape_while_the_run_dock_is_open(page: Page, server: LiveServer) -> None:
    # Two rows, the last shape in the bottom-right corner: where the minimap sits.
    spots = [(300, 0), (600, 0), (900, 0), (900, 400), (1200, 400)]
    steps = [
        {
            **_shape(f"step-{i}", "manual_payload", f"Step {i}", x, payload=str(i)),
            "position": {"x": x, "y": y},
        }
        for i, (x, y) in enumerate(spots, start=1)
    ]
    flow = _flow(server, _graph(*steps), deploy=True)
    log_in(page, server)
    page.goto(f"/flows/{flow['id']}")
    expect(page.locator(".react-flow__node")).to_have_count(6)
    expect(page.locator(".react-flow__minimap")).to_be_visible()

    page.get_by_role("button", name="Run now").click()
    dock = page.get_by_test_id("run-drawer")
    expect(dock.locator(".pill")).to_have_text("succeeded", timeout=30_000)
    screenshot(page, "28-run-dock-open")
    # Zoomed out to fit above the dock, shapes show their status by colour rather than a badge.
    expect(page.locator("[data-shape-id='step-5']")).to_have_class(re.compile(r"status-succeeded"))

    canvas = page.locator(".canvas").bounding_box()
    assert canvas is not None
    minimaps = page.locator(".react-flow__minimap")
    minimap = minimaps.bounding_box() if minimaps.count() > 0 else None
    for shape in page.locator(".react-flow__node").all():
        box = shape.bounding_box()
        assert box is not None
        assert minimap is None or not _overlap(box, minimap), (
            f"the minimap covers {shape.get_attribute('data-id')}"
        )
        # Refitted above the dock: every shape, with its status badge, is inside the visible canvas.
        assert canvas["y"] <= box["y"] and box["y"] + box["height"] <= canvas["y"] + canvas["height"]
        assert canvas["x"] <= box["x"] and box["x"] + box["width"] <= canvas["x"] + canvas["width"]

    dock.get_by_role("button", name="Close run").click()
    expect(page.locator(".react-flow__minimap")).to_be_visible()
