"""Browser tests: a real Patchbay server process (`manage.py runserver`, uvicorn, so websockets work) on a
fresh SQLite database, driven by Debian's Chromium through Playwright's sync API.

The server runs from a temporary PATCHBAY_VAR_DIR with its own database, migrated and seeded with three
users (admin, editor, viewer). Screenshots of the main screens go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/browser drives Chromium, whether or not its module says so: a module that
    forgot `pytestmark` would otherwise land in `make test-fast` and start a live server there."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)


ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-password-1"
USERS = {"ada-admin": "admin", "eddie-editor": "editor", "vera-viewer": "viewer"}

SEED_USERS = f"""
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
for name, role in {USERS!r}.items():
    user = User.objects.create_user(username=name, password={PASSWORD!r})
    user.groups.add(Group.objects.get(name=role))
    token = Token.objects.create(user=user)
    print("TOKEN", name, token.key)
"""


@dataclass
class LiveServer:
    url: str
    tokens: dict[str, str]
    # The server's environment, for management commands against its database (`manage`).
    env: dict[str, str] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        """Run `manage.py *args` against this server's database; returns what it printed."""
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def api(self, username: str = "eddie-editor") -> httpx.Client:
        """An API client acting as `username` (token auth), for arranging test data."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Token {self.tokens[username]}"}, timeout=30
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHBAY_", "PYTEST_"))}
    env.update(
        {
            # The real settings with a fast password hasher for the seeded users and every login.
            "DJANGO_SETTINGS_MODULE": "tests.server_settings",
            # The tests call the demo shop API under /demo-api/.
            "PATCHBAY_DEMO": "1",
            "PATCHBAY_VAR_DIR": str(var_dir),
            "PATCHBAY_DATABASE_URL": f"sqlite:///{var_dir / 'browser.sqlite3'}",
            "PATCHBAY_RETRY_DELAY": "0.2",
            "PATCHBAY_RETRY_DELAY_MAX": "1",
            "PATCHBAY_WORKERS": "2",
            "PATCHBAY_SCRIPT_POOL_SIZE": "1",
            "PATCHBAY_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install it with 'apt-get install -y chromium' (make test does).")
    if not (ROOT / "frontend" / "dist" / "manifest.json").exists():
        pytest.skip("The frontend is not built: run 'make setup-frontend' first.")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    var_dir = tmp_path_factory.mktemp("patchbay-browser")
    env = _server_env(var_dir)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True)
    seeded = subprocess.run(
        [*manage, "shell", "-c", SEED_USERS], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    tokens = {
        parts[1]: parts[2]
        for parts in (line.split() for line in seeded.stdout.splitlines())
        if len(parts) == 3 and parts[0] == "TOKEN"
    }
    port = _free_port()
    log = (var_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"The server exited: {(var_dir / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/login/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("The server did not answer within 60 s.")
            time.sleep(0.3)
        yield LiveServer(url=url, tokens=tokens, env=env)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()
        shutil.copy(var_dir / "server.log", _artifacts() / "browser-server.log")


def _artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# Module scope, not session: Playwright's sync API keeps an asyncio loop marked as running in this thread
# while it is open, and async tests collected after the browser tests would then fail to start their loop.
@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"JavaScript errors in the page: {errors}"


def log_in(page: Page, server: LiveServer, username: str = "eddie-editor") -> None:
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/flows")


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(_artifacts() / f"{name}.png"))
