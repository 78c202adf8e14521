"""Connector calls go through kept-alive clients: later runs reuse the connection to the upstream, and no
cookie an upstream set in one run travels with another run's request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from connectors.client import use_transport
from runs import services
from runs.models import Run
from tests.runs.conftest import run_once, shape


class Counting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: set[tuple[str, int]] = set()
    cookies: list[str | None] = []

    def do_GET(self) -> None:
        type(self).connections.add(self.client_address)
        type(self).cookies.append(self.headers.get("Cookie"))
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "session=from-an-earlier-run; Path=/")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def local_upstream() -> Iterator[str]:
    Counting.connections = set()
    Counting.cookies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_runs_reuse_the_connection_to_the_upstream_and_carry_no_cookies(
    make_flow, make_connector, make_endpoint, local_upstream
):
    connector = make_connector(base_url=local_upstream)
    endpoint = make_endpoint(connector, path="/orders")
    flow = make_flow([shape("get", "connector", connector=connector.pk, endpoint=endpoint.pk)])

    runs = [run_once(services.enqueue_run(flow=flow, trigger="api")) for _ in range(3)]

    assert [run.status for run in runs] == [Run.Status.SUCCEEDED] * 3
    assert len(Counting.cookies) == 3
    assert len(Counting.connections) == 1, "one kept-alive connection for all three runs"
    assert Counting.cookies == [None, None, None], "a cookie from one run's response is never sent again"


def test_a_transport_set_for_a_test_gets_clients_of_its_own(make_flow, make_connector, make_endpoint):
    connector = make_connector(base_url="https://erp.example.test")
    endpoint = make_endpoint(connector, path="/orders")
    flow = make_flow([shape("get", "connector", connector=connector.pk, endpoint=endpoint.pk)])
    seen: list[str] = []

    for name in ("first", "second"):

        def handler(request: httpx.Request, name: str = name) -> httpx.Response:
            seen.append(name)
            return httpx.Response(200, json={"by": name})

        with use_transport(httpx.MockTransport(handler)):
            run = run_once(services.enqueue_run(flow=flow, trigger="api"))
        assert json.loads(run.final_payload) == {"by": name}

    assert seen == ["first", "second"]
