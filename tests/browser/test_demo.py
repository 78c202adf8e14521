"""The demo in the browser on a port that is not 8000: load_demo pointed at the server's real port, and the
demo flow's Run now succeeds against the demo API that server serves."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, log_in, screenshot


def test_the_demo_flow_runs_on_a_non_default_port(page: Page, server: LiveServer) -> None:
    port = urlsplit(server.url).port
    assert port is not None and port != 8000
    printed = server.manage("load_demo", "--host", "127.0.0.1", "--port", str(port))
    assert f"the demo connector calls http://127.0.0.1:{port}/demo-api/" in printed

    log_in(page, server)
    page.get_by_role("link", name="Demo: order status check").click()
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    page.get_by_role("button", name="Run now").click()

    drawer_log = page.get_by_test_id("designer-log")
    expect(drawer_log).to_contain_text("Order 3 is shipped", timeout=30_000)
    expect(page.get_by_test_id("run-drawer").locator(".pill")).to_have_text("succeeded", timeout=30_000)
    screenshot(page, "demo-on-a-non-default-port")
