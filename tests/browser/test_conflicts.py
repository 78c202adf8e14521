"""Optimistic concurrency in the designer (issue 13 item 5), in headless Chromium against a live server:
a draft saved elsewhere while the canvas is open makes the next autosave a 409, and the designer offers to
reload the saved draft or overwrite it with the canvas."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, log_in

pytestmark = pytest.mark.browser


def trigger(name: str) -> dict[str, Any]:
    return {"id": "trigger", "type": "trigger", "name": name, "position": {"x": 80, "y": 120},
            "settings": {"kind": "manual"}}  # fmt: skip


def drag_notify(page: Page, x: int, y: int) -> None:
    page.drag_and_drop(
        ".palette-item[data-shape-type='notify']",
        ".canvas .react-flow__pane",
        target_position={"x": x, "y": y},
    )


def test_a_draft_saved_elsewhere_is_reloaded_or_overwritten(page: Page, server: LiveServer) -> None:
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": "Conflicting orders"}).raise_for_status().json()
        api.put(f"/api/flows/{flow['id']}/draft/", json={"shapes": [trigger("Start")], "connections": []})
    log_in(page, server)
    page.goto(f"{server.url}/flows/{flow['id']}")
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    expect(page.locator(".react-flow__node[data-id='trigger']")).to_contain_text("Start")

    # Another editor saves the draft; then this canvas changes and autosaves.
    with server.api() as api:
        api.put(
            f"/api/flows/{flow['id']}/draft/",
            json={"shapes": [trigger("Saved elsewhere")], "connections": []},
        )
    drag_notify(page, 420, 220)
    dialog = page.get_by_role("alertdialog", name="Changed elsewhere")
    expect(dialog).to_be_visible()

    dialog.get_by_role("button", name="Reload their version").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".react-flow__node[data-id='trigger']")).to_contain_text("Saved elsewhere")
    expect(page.locator(".react-flow__node")).to_have_count(1)

    # Again, and this time the canvas wins.
    with server.api() as api:
        api.put(
            f"/api/flows/{flow['id']}/draft/", json={"shapes": [trigger("Third edit")], "connections": []}
        )
    drag_notify(page, 420, 320)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Overwrite with mine").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    with server.api() as api:
        saved = api.get(f"/api/flows/{flow['id']}/draft/").json()
    assert [shape["type"] for shape in saved["shapes"]] == ["trigger", "notify"]
    assert saved["shapes"][0]["name"] == "Saved elsewhere"
