"""Dark mode: the system's colour scheme by default, a toggle in the app header that wins over it and is
remembered across reloads. Screenshots of the designer in both themes go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PASSWORD, LiveServer, screenshot

pytestmark = pytest.mark.browser


def _background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def _is_dark(colour: str) -> bool:
    """Whether an `rgb(r, g, b)` colour is dark (mean channel below the middle)."""
    channels = [int(part) for part in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]
    return sum(channels) / 3 < 128


@pytest.fixture
def dark_system_page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    """A page whose system colour scheme is dark, as `prefers-color-scheme` reports it."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, base_url=server.url, color_scheme="dark"
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def _log_in(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", "eddie-editor")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flows")


def _open_a_flow(page: Page, server: LiveServer, name: str) -> None:
    with server.api() as api:
        flow = api.post("/api/flows/", json={"name": name}).raise_for_status().json()
        api.put(
            f"/api/flows/{flow['id']}/draft/",
            json={
                "shapes": [
                    {
                        "id": "trigger",
                        "type": "trigger",
                        "name": "Start",
                        "position": {"x": 0, "y": 0},
                        "settings": {"kind": "manual"},
                    },
                    {
                        "id": "note",
                        "type": "notify",
                        "name": "Say hello",
                        "position": {"x": 280, "y": 0},
                        "settings": {"message": "hello", "level": "info", "email": None},
                    },
                ],
                "connections": [{"source": "trigger", "target": "note"}],
            },
        ).raise_for_status()
    page.goto(f"{server.url}/flows/{flow['id']}")
    expect(page.locator(".react-flow__node[data-id='note']")).to_be_visible()


def test_the_theme_follows_the_system_until_the_header_toggle_chooses(
    dark_system_page: Page, server: LiveServer
) -> None:
    page = dark_system_page
    _log_in(page, server)
    _open_a_flow(page, server, "Theme tour")
    html = page.locator("html")
    toggle = page.get_by_test_id("theme-toggle")

    # No choice yet: the system says dark.
    expect(html).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert _is_dark(_background(page))
    expect(page.locator(".react-flow.dark")).to_have_count(1)
    screenshot(page, "theme-dark-designer")

    toggle.click()
    expect(html).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_text("Dark mode")
    assert not _is_dark(_background(page))
    expect(page.locator(".react-flow.light")).to_have_count(1)
    screenshot(page, "theme-light-designer")

    # The choice is remembered and wins over the dark system scheme.
    page.reload()
    expect(page.locator(".react-flow__node[data-id='note']")).to_be_visible()
    expect(html).to_have_attribute("data-theme", "light")
    assert page.evaluate("localStorage.getItem('patchbay-theme')") == "light"

    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    page.goto(f"{server.url}/runs")
    expect(html).to_have_attribute("data-theme", "dark")
    assert _is_dark(_background(page))


def test_a_light_system_opens_light(page: Page, server: LiveServer) -> None:
    _log_in(page, server)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert not _is_dark(_background(page))
    expect(page.get_by_test_id("theme-toggle")).to_have_attribute("aria-pressed", "false")
