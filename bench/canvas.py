"""Canvas benchmark (issue 6): open a generated flow of 500 shapes and 600 connections in headless Chromium
and report the time to interactive and the frame times while panning the canvas and dragging shapes.

    .venv/bin/python bench/canvas.py [--shapes 500] [--connections 600] [--runs 3]

It starts its own Patchbay server (`manage.py runserver`, uvicorn) on a fresh SQLite database in a
temporary directory, creates a user and the flow through the REST API, then drives Debian's Chromium
(/usr/bin/chromium) with Playwright. Needs the built frontend (`make setup-frontend`).

Time to interactive: from the navigation's start to the moment the draft is loaded, every shape in view is
rendered and the next animation frame has run (the canvas answers input from then on).
Frame times: the gaps between requestAnimationFrame callbacks while the mouse pans the canvas (30 steps)
and while it drags a shape (30 steps). Headless Chromium paces frames at 60 Hz, so a smooth frame measures
16.7 ms and a dropped one 33 ms or more. Goal: interactive within 1.5 s, median frame under 16 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "canvas-bench-password-1"
SEED = f"""
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
user = User.objects.create_user(username="bench", password={PASSWORD!r})
user.groups.add(Group.objects.get(name="editor"))
print("TOKEN", Token.objects.create(user=user).key)
"""

# Collects the gaps between animation frames while `window.__frames` is an array.
FRAME_PROBE = """
() => {
  window.__frames = [];
  let last = performance.now();
  const tick = (now) => {
    if (!window.__frames) return;
    window.__frames.push(now - last);
    last = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
"""


def generate_graph(shapes: int, connections: int, seed: int = 6) -> dict[str, Any]:
    """A valid DAG: a trigger, then notify shapes on a grid; every shape hangs off an earlier one (a tree),
    plus extra forward connections up to `connections`."""
    rng = random.Random(seed)
    columns = 25
    nodes: list[dict[str, Any]] = [
        {
            "id": "trigger",
            "type": "trigger",
            "name": "Start",
            "position": {"x": 0, "y": 0},
            "settings": {"kind": "manual"},
        }
    ]
    for i in range(1, shapes):
        nodes.append(
            {
                "id": f"n{i}",
                "type": "notify",
                "name": f"Step {i}",
                "position": {"x": (i % columns) * 260, "y": (i // columns) * 120},
                "settings": {"message": f"Step {i} saw [[payload.id]]", "level": "info"},
            }
        )
    ids = [n["id"] for n in nodes]
    edges = {(ids[rng.randrange(max(0, i - 30), i)], ids[i]) for i in range(1, shapes)}
    while len(edges) < connections:
        a, b = sorted(rng.sample(range(shapes), 2))
        if b != 0:
            edges.add((ids[a], ids[b]))
    return {"shapes": nodes, "connections": [{"source": s, "target": t} for s, t in sorted(edges)]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(var_dir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHBAY_", "PYTEST_"))}
    env.update(
        {
            "PATCHBAY_VAR_DIR": str(var_dir),
            "PATCHBAY_DATABASE_URL": f"sqlite:///{var_dir / 'bench.sqlite3'}",
            "PATCHBAY_LOG_LEVEL": "WARNING",
            "PATCHBAY_SCRIPT_POOL_SIZE": "1",
        }
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run(
        [*manage, "shell", "-c", SEED], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    token = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("TOKEN "))
    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/login/", timeout=2).status_code == 200:
                return server, url, token
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit("The server did not start.")
        time.sleep(0.3)


def frames(page: Page, action: Any) -> list[float]:
    page.evaluate(FRAME_PROBE)
    action()
    gaps: list[float] = page.evaluate(
        "() => { const f = window.__frames; window.__frames = null; return f; }"
    )
    return gaps[1:] if len(gaps) > 1 else gaps


def drag(page: Page, start: tuple[float, float], delta: tuple[float, float], steps: int = 30) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(start[0] + delta[0] * i / steps, start[1] + delta[1] * i / steps)
    page.mouse.up()


def measure_once(page: Page, url: str, flow_id: int) -> dict[str, Any]:
    page.goto(f"{url}/flows", wait_until="load")
    page.goto(f"{url}/flows/{flow_id}", wait_until="commit")
    tti_ms = page.evaluate(
        """() => new Promise((resolve) => {
          const check = () => {
            const ready = document.querySelector('[data-testid=save-state]')
              && document.querySelectorAll('.react-flow__node').length > 0
              && document.querySelector('.react-flow__viewport');
            if (ready) requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
            else requestAnimationFrame(check);
          };
          check();
        })"""
    )
    rendered = page.locator(".react-flow__node").count()
    pane = page.locator(".react-flow__pane").bounding_box()
    assert pane is not None
    # Pan over empty space at the pane's bottom-left corner, where no shape sits after fit view.
    pan = frames(page, lambda: drag(page, (pane["x"] + 40, pane["y"] + pane["height"] - 20), (300, -150)))
    page.keyboard.press("Escape")
    # Zoom in on a shape so it is large enough to grab, then drag it around.
    page.locator(".react-flow__node[data-id='n30']").dispatch_event("click")
    box = page.locator(".react-flow__node[data-id='n30']").bounding_box()
    assert box is not None
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    move = frames(page, lambda: drag(page, centre, (220, 140)))
    return {"tti_ms": tti_ms, "rendered": rendered, "pan": pan, "drag": move}


def summary(values: list[float]) -> str:
    if not values:
        return "no frames"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median = statistics.median(ordered)
    return f"median {median:.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms ({len(ordered)} frames)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", type=int, default=500)
    parser.add_argument("--connections", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    if not (ROOT / "frontend" / "dist" / "manifest.json").exists():
        raise SystemExit("Build the frontend first: make setup-frontend")

    with tempfile.TemporaryDirectory(prefix="patchbay-canvas-") as tmp:
        server, url, token = start_server(Path(tmp))
        try:
            graph = generate_graph(args.shapes, args.connections)
            with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60) as api:
                flow = api.post("/api/flows/", json={"name": "Canvas benchmark"}).raise_for_status().json()
                saved = api.put(f"/api/flows/{flow['id']}/draft/", json=graph).raise_for_status().json()
            print(
                f"Flow: {len(saved['shapes'])} shapes, {len(saved['connections'])} connections, "
                f"{len(saved.get('errors', []))} validation errors"
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"{url}/login/")
                page.fill("#id_username", "bench")
                page.fill("#id_password", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{url}/flows")
                results = [measure_once(page, url, flow["id"]) for _ in range(args.runs)]
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)

    ttis = [r["tti_ms"] for r in results]
    pans = [gap for r in results for gap in r["pan"]]
    drags = [gap for r in results for gap in r["drag"]]
    print(f"Shapes rendered after fit view: {results[-1]['rendered']}")
    each = ", ".join(f"{t:.0f}" for t in ttis)
    print(f"Time to interactive: {each} ms (median {statistics.median(ttis):.0f} ms)")
    print(f"Frames while panning: {summary(pans)}")
    print(f"Frames while dragging a shape: {summary(drags)}")


if __name__ == "__main__":
    main()
