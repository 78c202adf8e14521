"""Canary secrets and a recording upstream that knows which origin each request reached.

`world` routes every outbound request of the test (MockTransport at the I/O edge) by origin: the connector's
own API at https://api.example.test and an attacker's host at https://evil.test, which only records. A test
fails if a canary reaches evil.test, a response, a stored row or a log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.core.files.storage import default_storage
from django.db import connection

from connectors.auth import clear_token_cache
from connectors.client import use_transport
from tests.runs.conftest import fast_retries, make_connector, make_endpoint, make_flow, shape  # noqa: F401

CANARY = "canary-S3CRET-7f1e"
API = "https://api.example.test"
EVIL = "https://evil.test"

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class World:
    """Per origin: a handler by path, and every request received."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def route(self, url: str, handler: Handler | dict[str, Any] | httpx.Response) -> None:
        if isinstance(handler, dict):
            body = handler
            self.routes[url] = lambda request: httpx.Response(200, json=body)
        elif isinstance(handler, httpx.Response):
            response = handler
            self.routes[url] = lambda request: response
        else:
            self.routes[url] = handler

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.url.scheme}://{request.url.host}{request.url.path}"
        handler = self.routes.get(key)
        if handler is None:
            return httpx.Response(404, text=f"no route {key}")
        return handler(request)

    def received_by(self, origin: str) -> list[httpx.Request]:
        return [r for r in self.requests if f"{r.url.scheme}://{r.url.host}" == origin]

    def wire_text(self, origin: str) -> str:
        """Everything `origin` received: URLs, headers and bodies."""
        parts = []
        for request in self.received_by(origin):
            parts.append(str(request.url))
            parts.extend(f"{k}: {v}" for k, v in request.headers.multi_items())
            parts.append(request.content.decode("utf-8", "replace"))
        return "\n".join(parts)


@pytest.fixture(autouse=True)
def own_media_root(settings, tmp_path) -> None:
    """Payload files of this test only, so `stored_text` sees every file the test left behind."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def world() -> Iterator[World]:
    fake = World()
    clear_token_cache()
    with use_transport(httpx.MockTransport(fake.handle)):
        yield fake
    clear_token_cache()


def stored_text(*, unreferenced_files: bool = True) -> str:
    """Every text column of every runs_* table and the payload files, as one string.

    `unreferenced_files=False` leaves out files no Payload row refers to (the copy of a large payload that
    travels between shapes unredacted, which retention removes once no work item refers to it)."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor) if t.startswith("runs_")]
        for table in tables:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                chunks.extend(str(value) for value in row if isinstance(value, (str, bytes, dict, list)))
    if unreferenced_files:
        chunks.extend(_files_text("payloads"))
    else:
        from runs.models import Payload

        for name in Payload.objects.exclude(file="").values_list("file", flat=True):
            with default_storage.open(name, "rb") as handle:
                chunks.append(handle.read().decode("utf-8", "replace"))
    return "\n".join(chunks)


def _files_text(directory: str) -> list[str]:
    out: list[str] = []
    try:
        folders, files = default_storage.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return out
    for name in files:
        with default_storage.open(f"{directory}/{name}", "rb") as handle:
            out.append(handle.read().decode("utf-8", "replace"))
    for folder in folders:
        out.extend(_files_text(f"{directory}/{folder}"))
    return out


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class Recorded:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


class LocalUpstream:
    """A real HTTP server on 127.0.0.1 in a thread that records every request and echoes it back as JSON."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.requests: list[Recorded] = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.requests.append(Recorded(self.command, self.path, list(self.headers.items()), body))
                echo = json.dumps(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body.decode()}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(echo)))
                self.end_headers()
                self.wfile.write(echo)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def wire_text(self) -> str:
        return "\n".join(
            f"{r.method} {r.path} {r.headers} {r.body.decode('utf-8', 'replace')}" for r in self.requests
        )


@pytest.fixture
def local_upstream() -> Iterator[LocalUpstream]:
    clear_token_cache()
    server = LocalUpstream()
    yield server
    server.close()
    clear_token_cache()
