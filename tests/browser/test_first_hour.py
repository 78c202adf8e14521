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
    """The draft reaches the server soon after the page is left (the save is not awaited by the link)."""
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
