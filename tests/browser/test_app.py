"""The browser app end to end, in headless Chromium against a live Patchbay server (see conftest.py).

Scenarios of issue 6: log in; build a flow from scratch by dragging a trigger, a connector and a script
shape and connecting them; choose a response script in the connector panel's dropdown; deploy; run; see
the log lines, including the response script's message, appear live; write, test and deploy a script in
the editor and see an error at its line; retry a failed run from its page. Each main screen is saved as a
screenshot in test-artifacts/.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer, log_in, screenshot

pytestmark = pytest.mark.browser

_names = itertools.count(1)

RESPONSE_SCRIPT = """def handle(data):
    data["response_code"] = 0
    data["message"] = "Response script approved HTTP " + str(data["response"]["status"])
    return data
"""

TIDY_SCRIPT = """import json


def handle(data):
    order = json.loads(data["payload"])
    data["payload"] = json.dumps({"number": order["number"], "status": order["status"]})
    data["logs"] = ["Tidied order " + str(order["number"])]
    return data
"""


FIXED_SCRIPT = """import json


def handle(data):
    data["payload"] = json.dumps({"ok": True})
    print("checked")
    return data
"""


def unique(prefix: str) -> str:
    return f"{prefix} {next(_names)}"


def create_deployed_script(server: LiveServer, *, name: str, kind: str, code: str) -> dict[str, Any]:
    with server.api() as api:
        script = api.post("/api/scripts/", json={"name": name, "kind": kind, "code": code}).raise_for_status()
        body = script.json()
        api.post(f"/api/scripts/{body['id']}/deploy/").raise_for_status()
        return body


def create_demo_connector(server: LiveServer) -> tuple[dict[str, Any], dict[str, Any]]:
    with server.api() as api:
        connector = api.post(
            "/api/connectors/",
            json={"name": unique("Demo shop"), "base_url": f"{server.url}/demo-api", "auth_type": "none"},
        ).raise_for_status()
        endpoint = api.post(
            "/api/endpoints/",
            json={
                "connector": connector.json()["id"],
                "name": "Get order",
                "method": "GET",
                "path": "/orders/3",
            },
        ).raise_for_status()
        return connector.json(), endpoint.json()


def node(page: Page, shape_id: str) -> Locator:
    return page.locator(f".react-flow__node[data-id='{shape_id}']")


def drag_from_palette(page: Page, shape_type: str, x: int, y: int) -> None:
    page.drag_and_drop(
        f".palette-item[data-shape-type='{shape_type}']",
        ".canvas .react-flow__pane",
        target_position={"x": x, "y": y},
    )


def connect(page: Page, source: str, target: str) -> None:
    start = node(page, source).locator(".react-flow__handle.source").bounding_box()
    end = node(page, target).locator(".react-flow__handle.target").bounding_box()
    assert start is not None and end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()
    expect(page.locator(f".react-flow__edge[data-id='{source}->{target}']")).to_have_count(1)


def test_build_deploy_and_run_a_flow_with_a_response_script(page: Page, server: LiveServer) -> None:
    connector, endpoint = create_demo_connector(server)
    response_script = create_deployed_script(
        server, name=unique("Approve response"), kind="response", code=RESPONSE_SCRIPT
    )
    tidy = create_deployed_script(server, name=unique("Tidy order"), kind="general", code=TIDY_SCRIPT)

    log_in(page, server)
    screenshot(page, "01-flows-empty")
    page.get_by_label("New flow name").fill(unique("Orders"))
    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")

    # From scratch: remove whatever the new draft starts with, then drag the three shapes in.
    for existing in page.locator(".react-flow__node").all():
        existing.click()
        page.keyboard.press("Delete")
    expect(page.locator(".react-flow__node")).to_have_count(0)
    drag_from_palette(page, "trigger", 120, 220)
    drag_from_palette(page, "connector", 420, 220)
    drag_from_palette(page, "script", 420, 420)
    expect(page.locator(".react-flow__node")).to_have_count(3)
    connect(page, "trigger", "connector")
    connect(page, "connector", "script")

    # The connector panel: connector, endpoint (filtered by connector), and the response script dropdown.
    node(page, "connector").click()
    panel = page.get_by_test_id("shape-panel")
    expect(panel).to_have_attribute("data-shape-id", "connector")
    panel.get_by_test_id("connector-select").select_option(str(connector["id"]))
    panel.get_by_test_id("endpoint-select").select_option(str(endpoint["id"]))
    dropdown = panel.get_by_test_id("response-script-select")
    expect(dropdown.locator("option", has_text=response_script["name"])).to_have_count(1)
    # Only scripts with a deployed version are offered: the tidy script is offered too, a draft-only one not.
    dropdown.select_option(str(response_script["id"]))
    expect(panel.get_by_test_id("response-script-select-version")).to_contain_text("Latest deployed (v1)")
    expect(panel.get_by_role("link", name=re.compile("Open script in the editor"))).to_have_attribute(
        "href", f"/scripts/{response_script['id']}"
    )
    screenshot(page, "02-designer-connector-panel")

    node(page, "script").click()
    page.get_by_test_id("shape-panel").get_by_test_id("script-select").select_option(str(tidy["id"]))
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved", timeout=10_000)

    # The autosaved draft is what the server has.
    flow_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    with server.api() as api:
        draft = api.get(f"/api/flows/{flow_id}/draft/").json()
    assert sorted(s["type"] for s in draft["shapes"]) == ["connector", "script", "trigger"]
    assert {(c["source"], c["target"]) for c in draft["connections"]} == {
        ("trigger", "connector"),
        ("connector", "script"),
    }
    settings = next(s["settings"] for s in draft["shapes"] if s["type"] == "connector")
    assert settings["response_script"] == response_script["id"]
    assert settings["response_script_version"] is None

    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_text("Deployed version 1.")).to_be_visible()
    page.get_by_role("button", name="Run now").click()

    drawer_log = page.get_by_test_id("designer-log")
    expect(drawer_log).to_contain_text("Response script approved HTTP 200", timeout=30_000)
    expect(drawer_log).to_contain_text("Tidied order 3")
    expect(page.get_by_test_id("run-drawer").locator(".pill")).to_have_text("succeeded", timeout=30_000)
    expect(node(page, "script").get_by_test_id("shape-overlay")).to_contain_text("succeeded")
    screenshot(page, "03-designer-run-overlay")

    # The run's own page shows the same lines and the step timeline.
    page.get_by_test_id("run-drawer").get_by_role("link").click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    expect(page.get_by_test_id("run-log")).to_contain_text("Response script approved HTTP 200")
    expect(page.locator(".step-item")).to_have_count(3)
    page.locator(".step-item", has_text="Connector").click()
    expect(page.get_by_test_id("step-detail")).to_contain_text("Attempt 1")
    screenshot(page, "04-run-detail")

    # From the connector step, open the response script with that step's real response in its test panel.
    page.get_by_role("link", name="Test the response script with this response").click()
    page.wait_for_url(re.compile(rf"/scripts/{response_script['id']}\?run=\d+&step=\d+$"))
    expect(page.get_by_label("Response block")).to_have_value(re.compile(r'"status": 200[\s\S]*shipped'))
    page.get_by_role("button", name="Run test").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("Response script approved HTTP 200")


def test_live_log_lines_arrive_while_the_run_page_is_open(page: Page, server: LiveServer) -> None:
    """The run page is opened before the run starts executing lines; they stream in over the websocket."""
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": unique("Chatty")}).raise_for_status().json()
        shapes: list[dict[str, Any]] = [
            {
                "id": "trigger",
                "type": "trigger",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "settings": {"kind": "manual"},
            }
        ]
        connections = []
        previous = "trigger"
        for n in range(1, 6):
            shapes.append(
                {
                    "id": f"say-{n}",
                    "type": "notify",
                    "name": f"Say {n}",
                    "position": {"x": 240 * n, "y": 0},
                    "settings": {"message": f"Line number {n} from [[flow.name]]", "level": "info"},
                }
            )
            connections.append({"source": previous, "target": f"say-{n}"})
            previous = f"say-{n}"
        api.put(
            f"/api/flows/{flow['id']}/draft/", json={"shapes": shapes, "connections": connections}
        ).raise_for_status()
        api.post(f"/api/flows/{flow['id']}/deploy/").raise_for_status()
    log_in(page, server)
    # The flows list shows each flow's last run status as it changes.
    row = page.locator(f"tr[data-flow-id='{flow['id']}']")
    expect(row.locator(".pill")).to_have_text("never run")
    expect(page.get_by_test_id("flows-live")).to_have_text("live")
    with server.api() as api:
        api.post(f"/api/flows/{flow['id']}/runs/", json={}).raise_for_status()
    expect(row.locator(".pill")).to_have_text("succeeded", timeout=30_000)

    page.goto(f"{server.url}/runs")
    expect(page.get_by_text("live", exact=True)).to_be_visible()
    with server.api() as api:
        run = api.post(f"/api/flows/{flow['id']}/runs/", json={}).raise_for_status().json()
    # The runs list learns about the new run from the /ws/runs/ feed, without a reload.
    row = page.locator(f"tr[data-run-id='{run['id']}']")
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator(".pill")).to_have_text("succeeded", timeout=30_000)
    flow_cell = page.get_by_role("cell", name=flow["name"], exact=True)
    expect(page.locator("tr[data-run-id]", has=flow_cell)).to_have_count(2)
    screenshot(page, "05-runs-list")
    row.get_by_role("link").click()
    log = page.get_by_test_id("run-log")
    for n in range(1, 6):
        expect(log).to_contain_text(f"Line number {n} from {flow['name']}")
    page.get_by_label("Search the log").fill("number 3")
    expect(log.locator(".log-line")).to_have_count(1)


def test_write_test_and_deploy_a_script_with_errors_at_their_lines(page: Page, server: LiveServer) -> None:
    log_in(page, server)
    page.get_by_role("link", name="Scripts").click()
    screenshot(page, "06-scripts-list")
    page.get_by_label("New script name").fill(unique("Pick fields"))
    page.get_by_role("button", name="Create script").click()
    page.wait_for_url(re.compile(r"/scripts/\d+$"))
    editor = page.locator(".cm-content")
    expect(editor).to_contain_text("def handle(data):")

    def write(code: str) -> None:
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.press("Delete")
        page.keyboard.insert_text(code)

    # A script that fails at run time: the test panel names the error and its line is marked.
    write("def handle(data):\n    total = 0\n    ratio = 1 / total\n    return data\n")
    page.get_by_role("button", name="Run test").click()
    expect(page.get_by_test_id("test-error")).to_contain_text("line 3")
    expect(page.locator(".cm-error-line")).to_have_count(1)
    expect(page.locator(".cm-error-line")).to_contain_text("ratio = 1 / total")

    # A script that does not compile: deploy is refused with the error at its line.
    write("def handle(data):\n    return data\n\ndef broken(:\n    pass\n")
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_text("Deploy refused")).to_be_visible()
    expect(page.get_by_test_id("line-errors")).to_contain_text("Line 4")
    expect(page.locator(".cm-error-line")).to_contain_text("def broken(:")
    screenshot(page, "07-script-editor-errors")

    # Fixed, tested and deployed.
    write(FIXED_SCRIPT)
    page.get_by_role("button", name="Run test").click()
    result = page.get_by_test_id("test-result")
    expect(result).to_contain_text("OK")
    expect(result).to_contain_text("checked")
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_text("Deployed version 1.")).to_be_visible()
    expect(page.locator(".cm-error-line")).to_have_count(0)
    expect(page.locator(".versions")).to_contain_text("v1")
    screenshot(page, "08-script-editor-deployed")


def test_retry_a_failed_run_from_its_page(page: Page, server: LiveServer) -> None:
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": unique("Strict")}).raise_for_status().json()
        graph = {
            "shapes": [
                {
                    "id": "trigger",
                    "type": "trigger",
                    "name": "Start",
                    "position": {"x": 0, "y": 0},
                    "settings": {"kind": "manual"},
                },
                {
                    "id": "check",
                    "type": "assert",
                    "name": "Must be paid",
                    "position": {"x": 240, "y": 0},
                    "settings": {
                        "conditions": [
                            {"source": "payload", "path": "status", "operator": "equals", "value": "paid"}
                        ],
                        "message": "Order is not paid",
                    },
                },
            ],
            "connections": [{"source": "trigger", "target": "check"}],
        }
        api.put(f"/api/flows/{flow['id']}/draft/", json=graph).raise_for_status()
        api.post(f"/api/flows/{flow['id']}/deploy/").raise_for_status()
        run = (
            api.post(f"/api/flows/{flow['id']}/runs/", json={"payload": '{"status": "open"}'})
            .raise_for_status()
            .json()
        )

    log_in(page, server)
    page.goto(f"{server.url}/runs/{run['id']}")
    expect(page.locator("h1 .pill")).to_have_text("failed", timeout=30_000)
    expect(page.get_by_test_id("run-log")).to_contain_text("Order is not paid")
    screenshot(page, "09-failed-run")
    page.get_by_role("button", name="Retry from start").click()
    page.wait_for_url(re.compile(rf"/runs/(?!{run['id']}$)\d+$"))
    expect(page.get_by_text(f"#{run['id']}", exact=True)).to_be_visible()
    expect(page.locator("h1 .pill")).to_have_text("failed", timeout=30_000)
    with server.api() as api:
        retries = api.get("/api/runs/", params={"flow": flow["id"]}).json()["results"]
    assert len(retries) == 2
    assert retries[0]["retry_of"] == run["id"]


def test_connectors_page_keeps_secrets_write_only(page: Page, server: LiveServer) -> None:
    log_in(page, server)
    page.get_by_role("link", name="Connectors").click()
    page.get_by_role("link", name="New connector").click()
    form = page.locator(".connector-form")
    name = unique("Warehouse")
    form.get_by_label("Name", exact=True).fill(name)
    form.get_by_label("Base URL").fill("https://warehouse.example/api")
    form.get_by_label("Authentication").select_option("bearer")
    form.get_by_label("Token").fill("s3cret-token")
    form.get_by_role("button", name="Create connector").click()
    expect(page.get_by_text("Connector saved.")).to_be_visible()
    expect(form.get_by_label("Token")).to_have_value("")
    expect(form.get_by_label("Token")).to_have_attribute("placeholder", re.compile("set"))
    assert "s3cret-token" not in page.content()
    form.get_by_role("button", name="Add endpoint").click()
    endpoint = page.locator(".endpoint-form")
    endpoint.get_by_label("Name", exact=True).fill("List stock")
    endpoint.get_by_label("Path").fill("/stock/[[variables.sku]]")
    endpoint.get_by_role("button", name="Save endpoint").click()
    expect(page.locator(".table")).to_contain_text("/stock/[[variables.sku]]")
    screenshot(page, "10-connectors")


def test_shortcuts_validation_errors_and_versions(page: Page, server: LiveServer) -> None:
    log_in(page, server)
    page.get_by_label("New flow name").fill(unique("Editing"))
    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved")
    nodes = page.locator(".react-flow__node")
    for existing in nodes.all():
        existing.click()
        page.keyboard.press("Delete")
    expect(nodes).to_have_count(0)
    drag_from_palette(page, "trigger", 120, 200)
    drag_from_palette(page, "run_flow", 420, 200)
    connect(page, "trigger", "run_flow")

    # The server's validation errors land on the offending shape and in its panel.
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_text("Deploy refused")).to_be_visible()
    expect(node(page, "run_flow").locator(".shape-node")).to_have_class(re.compile("invalid"))
    node(page, "run_flow").click()
    expect(page.get_by_test_id("shape-panel").locator(".field-error").first).to_be_visible()
    screenshot(page, "11-designer-validation-errors")

    # Copy / paste, undo / redo from the keyboard.
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(nodes).to_have_count(3)
    page.keyboard.press("Control+z")
    expect(nodes).to_have_count(2)
    page.keyboard.press("Control+y")
    expect(nodes).to_have_count(3)
    node(page, "run_flow-2").click()
    page.keyboard.press("Delete")
    expect(nodes).to_have_count(2)

    # Make it valid (a notify shape instead), deploy v1, change the draft, then restore v1 from the versions.
    node(page, "run_flow").click()
    page.keyboard.press("Delete")
    drag_from_palette(page, "notify", 420, 200)
    connect(page, "trigger", "notify")
    node(page, "notify").click()
    page.get_by_test_id("shape-panel").get_by_label("Message").fill("Hello from [[flow.name]]")
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved", timeout=10_000)
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_text("Deployed version 1.")).to_be_visible()
    drag_from_palette(page, "manual_payload", 420, 400)
    expect(nodes).to_have_count(3)
    expect(page.get_by_test_id("save-state")).to_have_text("Draft saved", timeout=10_000)
    page.get_by_role("button", name="Versions").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("dialog", name="Versions").get_by_role("button", name="Restore as draft").click()
    expect(page.get_by_text("Version 1 restored as the draft.")).to_be_visible()
    expect(nodes).to_have_count(2)
    screenshot(page, "12-designer-versions-restored")

    # Run the deployed version with a payload and a variable from the dialog.
    page.get_by_role("button", name="Run with payload…").click()
    dialog = page.get_by_role("dialog", name="Run with payload")
    dialog.get_by_label("Input payload").fill('{"order": 7}')
    dialog.get_by_role("button", name="+ Add").click()
    dialog.get_by_label("Variables name 1").fill("region")
    dialog.get_by_label("Variables value 1").fill("north")
    dialog.get_by_role("button", name="Start run").click()
    expect(page.get_by_test_id("designer-log")).to_contain_text("Hello from Editing", timeout=30_000)
    run_link = page.get_by_test_id("run-drawer").get_by_role("link")
    run_id = int(run_link.inner_text().lstrip("#"))
    with server.api() as api:
        run = api.get(f"/api/runs/{run_id}/").json()
    assert run["variables"] == {"region": "north"}
    assert run["trigger"] == "manual"


def test_a_viewer_sees_the_designer_read_only(page: Page, server: LiveServer) -> None:
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": unique("Watched")}).raise_for_status().json()
    log_in(page, server, "vera-viewer")
    expect(page.get_by_label("New flow name")).to_have_count(0)
    expect(page.locator(f"tr[data-flow-id='{flow['id']}']")).to_be_visible()
    expect(page.get_by_label(f"{flow['name']} enabled")).to_be_disabled()
    screenshot(page, "13-flows-list-viewer")
    page.goto(f"{server.url}/flows/{flow['id']}")
    expect(page.get_by_test_id("save-state")).to_have_text("read only")
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    expect(page.locator(".palette-item").first).to_be_disabled()
