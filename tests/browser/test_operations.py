"""Operating runs in the browser: the run page's two retry choices (from the failed step or the start,
with the run's version or the deployed one) and the runs list's bulk retry / stop."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, log_in, screenshot

pytestmark = pytest.mark.browser

_names = itertools.count(1)


def _graph(expected_status: str) -> dict[str, Any]:
    return {
        "shapes": [
            {
                "id": "trigger",
                "type": "trigger",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "settings": {"kind": "manual"},
            },
            {
                "id": "stamp",
                "type": "set_variables",
                "name": "Stamp",
                "position": {"x": 240, "y": 0},
                "settings": {"variables": [{"name": "seen", "value": "yes"}]},
            },
            {
                "id": "check",
                "type": "assert",
                "name": "Check status",
                "position": {"x": 480, "y": 0},
                "settings": {
                    "conditions": [
                        {
                            "source": "payload",
                            "path": "status",
                            "operator": "equals",
                            "value": expected_status,
                        }
                    ],
                    "message": "Status is not " + expected_status,
                },
            },
        ],
        "connections": [{"source": "trigger", "target": "stamp"}, {"source": "stamp", "target": "check"}],
    }


def _failing_flow(server: LiveServer) -> dict[str, Any]:
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": f"Ops flow {next(_names)}"}).raise_for_status().json()
        api.put(f"/api/flows/{flow['id']}/draft/", json=_graph("paid")).raise_for_status()
        api.post(f"/api/flows/{flow['id']}/deploy/").raise_for_status()
        return flow


def _start(server: LiveServer, flow: dict[str, Any]) -> dict[str, Any]:
    with server.api() as api:
        return (
            api.post(f"/api/flows/{flow['id']}/runs/", json={"payload": '{"status": "open"}'})
            .raise_for_status()
            .json()
        )


def _steps(server: LiveServer, run_id: int) -> list[str]:
    with server.api() as api:
        return [step["shape_id"] for step in api.get(f"/api/runs/{run_id}/").json()["steps"]]


def test_the_run_page_retries_from_the_failed_step_or_from_the_start(page: Page, server: LiveServer) -> None:
    flow = _failing_flow(server)
    first = _start(server, flow)
    second = _start(server, flow)

    log_in(page, server)
    page.goto(f"{server.url}/runs/{first['id']}")
    expect(page.locator("h1 .pill")).to_have_text("failed", timeout=30_000)
    controls = page.get_by_test_id("retry-controls")
    expect(controls.get_by_role("button", name="Retry from failed step")).to_be_visible()
    expect(controls.get_by_role("button", name="Retry from start")).to_be_visible()
    screenshot(page, "20-retry-choices")

    # The fix is deployed: retry the failed step only, with the deployed version.
    with server.api() as api:
        api.put(f"/api/flows/{flow['id']}/draft/", json=_graph("open")).raise_for_status()
        api.post(f"/api/flows/{flow['id']}/deploy/").raise_for_status()
    controls.get_by_label("Flow version of the retry").select_option("deployed")
    controls.get_by_role("button", name="Retry from failed step").click()
    page.wait_for_url(re.compile(rf"/runs/(?!{first['id']}$)\d+$"))
    expect(page.locator("h1 .pill")).to_have_text("succeeded", timeout=30_000)
    expect(page.get_by_text(f"#{first['id']}", exact=True)).to_be_visible()
    retried = int(page.url.rsplit("/", 1)[1])
    assert _steps(server, retried) == ["check"]  # the trigger and Stamp were not executed again

    # From the start with the run's own (failing) version: every step runs again and fails again.
    page.goto(f"{server.url}/runs/{second['id']}")
    expect(page.locator("h1 .pill")).to_have_text("failed", timeout=30_000)
    page.get_by_test_id("retry-controls").get_by_role("button", name="Retry from start").click()
    page.wait_for_url(re.compile(rf"/runs/(?!{second['id']}$)\d+$"))
    expect(page.locator("h1 .pill")).to_have_text("failed", timeout=30_000)
    again = int(page.url.rsplit("/", 1)[1])
    assert _steps(server, again) == ["trigger", "stamp", "check"]

    # A run is retried once: its page links to the retry instead of offering another.
    page.goto(f"{server.url}/runs/{second['id']}")
    expect(page.get_by_role("link", name=f"#{again}")).to_be_visible()
    expect(page.get_by_test_id("retry-controls")).to_have_count(0)


def test_the_runs_list_retries_and_stops_runs_in_bulk(page: Page, server: LiveServer) -> None:
    flow = _failing_flow(server)
    runs = [_start(server, flow) for _ in range(3)]
    with server.api() as api:
        for run in runs:
            for _ in range(100):
                if api.get(f"/api/runs/{run['id']}/").json()["status"] == "failed":
                    break
                page.wait_for_timeout(200)
    page.on("dialog", lambda dialog: dialog.accept())

    log_in(page, server)
    page.goto(f"{server.url}/runs?flow={flow['id']}&status=failed")
    for run in runs:
        expect(page.locator(f"tr[data-run-id='{run['id']}']")).to_be_visible()
    page.get_by_label(f"Select run {runs[0]['id']}").check()
    page.get_by_label(f"Select run {runs[1]['id']}").check()
    bulk = page.get_by_test_id("bulk-actions")
    expect(bulk).to_contain_text("2 selected")
    bulk.get_by_role("button", name="Retry selected").click()
    expect(bulk.get_by_test_id("bulk-summary")).to_have_text("Retry: 2 retried")
    screenshot(page, "21-bulk-retry")

    # Every failed run of the flow through the filter: the two already retried are refused, with the reason.
    bulk.get_by_role("button", name="Retry all matching").click()
    expect(bulk.get_by_test_id("bulk-summary")).to_contain_text("retried")
    expect(bulk).to_contain_text("already retried")

    # Stop on finished runs is refused per run.
    page.get_by_label(f"Select run {runs[2]['id']}").check()
    bulk.get_by_role("button", name="Stop selected").click()
    expect(bulk.get_by_test_id("bulk-summary")).to_have_text("Stop: 1 refused")
    with server.api() as api:
        listed = api.get("/api/runs/", params={"flow": flow["id"], "trigger": "retry"}).json()["results"]
    # Each of the three was retried exactly once (retries that failed in turn may have been retried too).
    retried = [run["retry_of"] for run in listed]
    assert all(retried.count(run["id"]) == 1 for run in runs)


def test_a_viewer_gets_no_bulk_or_retry_controls(page: Page, server: LiveServer) -> None:
    flow = _failing_flow(server)
    run = _start(server, flow)
    log_in(page, server, "vera-viewer")
    page.goto(f"{server.url}/runs/{run['id']}")
    expect(page.locator("h1 .pill")).to_have_text("failed", timeout=30_000)
    expect(page.get_by_test_id("retry-controls")).to_have_count(0)
    page.goto(f"{server.url}/runs")
    expect(page.locator(f"tr[data-run-id='{run['id']}']")).to_be_visible()
    expect(page.get_by_test_id("bulk-actions")).to_have_count(0)


def test_alert_channels_and_a_flows_alert_settings(page: Page, server: LiveServer) -> None:
    flow = _failing_flow(server)
    with server.api() as api:
        handler = (
            api.post("/api/flows/", json={"name": f"Error handler {next(_names)}"}).raise_for_status().json()
        )

    log_in(page, server)
    page.goto(f"{server.url}/alerts")
    page.get_by_label("Channel name").fill("Ops mailbox")
    page.get_by_label("Channel kind").select_option("email")
    page.get_by_label("Channel target").fill("ops@example.test, oncall@example.test")
    page.get_by_role("button", name="Add channel").click()
    row = page.locator("tr[data-channel='Ops mailbox']")
    expect(row).to_contain_text("ops@example.test, oncall@example.test")

    page.goto(f"{server.url}/flows/{flow['id']}")
    alerts = page.get_by_test_id("alert-settings")
    alerts.get_by_label("Ops mailbox").check()
    alerts.get_by_label("Partial success").check()
    alerts.get_by_label("At most one alert every (minutes)").fill("15")
    alerts.get_by_label("Error flow").select_option(label=handler["name"])
    alerts.get_by_role("button", name="Save alert settings").click()
    expect(alerts).to_contain_text("Alert settings saved.")
    screenshot(page, "22-alert-settings")

    with server.api() as api:
        saved = api.get(f"/api/flows/{flow['id']}/alerts/").json()
        channel = api.get("/api/notification-channels/").json()[0]
    assert saved["channels"] == [channel["id"]] and channel["config"]["to"] == [
        "ops@example.test",
        "oncall@example.test",
    ]
    assert saved["outcomes"] == ["failed", "retries_exhausted", "partial_success"]
    assert saved["interval_minutes"] == 15 and saved["error_flow"] == handler["id"]
