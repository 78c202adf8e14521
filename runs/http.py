"""The one way out to HTTP: an httpx client factory that tests can point at a transport.

Tests wrap code in `use_transport(httpx.MockTransport(handler))` (or talk to a real local server); nothing
monkeypatches httpx. Failures become `ConnectorError` with `retryable` set, which is all the retry policy
reads: transport errors (connect, read timeout, reset) are retryable, malformed requests are not.
"""

from __future__ import annotations

import atexit
import contextlib
import http.cookiejar
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import certifi
import httpx

from runs.errors import ConnectorError

_lock = threading.Lock()
_transport: httpx.BaseTransport | None = None
_ssl_context: ssl.SSLContext | None = None


def _verify() -> ssl.SSLContext:
    # Building an SSL context reads the CA bundle (milliseconds); share one instead of one per client.
    global _ssl_context
    with _lock:
        if _ssl_context is None:
            _ssl_context = ssl.create_default_context(cafile=certifi.where())
        return _ssl_context


@contextmanager
def use_transport(transport: httpx.BaseTransport) -> Iterator[httpx.BaseTransport]:
    """Route every client built inside the block through `transport` (tests and the benchmark)."""
    global _transport
    with _lock:
        previous, _transport = _transport, transport
    try:
        yield transport
    finally:
        with _lock:
            _transport = previous


# Kept-alive clients per thread, per connector and timeout, most recently used last; at most this many.
KEPT_CLIENTS = 32
_kept = threading.local()
ClientKey = tuple[int | None, float, int | None]


class _ThreadClients(OrderedDict[ClientKey, httpx.Client]):
    """One thread's kept clients; closed with their connections when the thread ends (its thread-local
    storage goes away) or when `close_kept_clients` is called."""

    def close_all(self) -> None:
        while self:
            _, client = self.popitem()
            with contextlib.suppress(Exception):
                client.close()

    def __del__(self) -> None:
        self.close_all()


def _no_cookies() -> http.cookiejar.CookieJar:
    # A kept client must not carry one run's cookies into another run's requests: accept none.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def connector_client(*, connector_id: int | None, timeout: float) -> httpx.Client:
    """A kept-alive client for calls to connector `connector_id`: reused by this thread's later calls, so
    they skip building a client and, while the upstream keeps it open, connecting. Never close it.

    It keeps no cookies between requests (each request carries only what the connector sends). A client
    built while `use_transport` is active is kept for that transport only.
    """
    with _lock:
        transport = _transport
    key: ClientKey = (connector_id, float(timeout), id(transport) if transport is not None else None)
    clients: _ThreadClients | None = getattr(_kept, "clients", None)
    if clients is None:
        clients = _kept.clients = _ThreadClients()
    client = clients.get(key)
    if client is not None and not client.is_closed:
        clients.move_to_end(key)
        return client
    client = build_client(timeout=timeout)
    client.cookies = _no_cookies()  # type: ignore[assignment]
    clients[key] = client
    while len(clients) > KEPT_CLIENTS:
        _, oldest = clients.popitem(last=False)
        oldest.close()
    return client


def close_kept_clients() -> None:
    """Close this thread's kept clients (a worker thread ending, the process exiting)."""
    clients: _ThreadClients | None = getattr(_kept, "clients", None)
    if clients is not None:
        clients.close_all()


atexit.register(close_kept_clients)


def build_client(*, timeout: float) -> httpx.Client:
    """A new client with `timeout` seconds for connect, read, write and pool waits. Close it after use."""
    with _lock:
        transport = _transport
    if transport is not None:
        return httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)
    return httpx.Client(verify=_verify(), timeout=timeout, follow_redirects=True)


@dataclass
class HttpResponse:
    """A received response with its body read (up to `max_bytes`)."""

    status: int
    headers: httpx.Headers
    content: bytes
    url: str
    links: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        # PostgreSQL text and jsonb cannot hold NUL: a binary byte from upstream must not stop us storing it.
        return self._decoded().replace("\x00", "\ufffd")

    def _decoded(self) -> str:
        charset = "utf-8"
        content_type = self.headers.get("content-type", "")
        if "charset=" in content_type:
            charset = content_type.split("charset=", 1)[1].split(";", 1)[0].strip().strip('"') or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


def send(
    client: httpx.Client, request: httpx.Request, *, max_bytes: int, total_seconds: float | None = None
) -> HttpResponse:
    """Send `request`, read at most `max_bytes` of the body, map failures to `ConnectorError`.

    httpx's timeouts bound each network operation; `total_seconds` bounds the whole exchange, so an upstream
    that drips its body byte by byte cannot hold a step (and its lease) forever.
    """
    where = f"{request.method} {request.url.copy_with(query=None)}"
    deadline = time.monotonic() + total_seconds if total_seconds is not None else None
    try:
        response = client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise ConnectorError(f"Timed out ({type(exc).__name__}) calling {where}", retryable=True) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ConnectorError(f"Invalid request {where}: {exc}", retryable=False) from exc
    except httpx.TransportError as exc:
        raise ConnectorError(f"{type(exc).__name__} calling {where}: {exc}", retryable=True) from exc
    try:
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes():
            if deadline is not None and time.monotonic() > deadline:
                raise ConnectorError(
                    f"The response of {where} did not arrive within {total_seconds:.0f} s", retryable=True
                )
            received += len(chunk)
            if received > max_bytes:
                raise ConnectorError(
                    f"Response of {where} exceeds the limit of {max_bytes} bytes"
                    " (PATCHBAY_MAX_PAYLOAD_BYTES).",
                    retryable=False,
                )
            chunks.append(chunk)
    except httpx.TimeoutException as exc:
        raise ConnectorError(f"Timed out reading the response of {where}", retryable=True) from exc
    except httpx.DecodingError as exc:
        raise ConnectorError(f"Could not decode the response of {where}: {exc}", retryable=False) from exc
    except httpx.TransportError as exc:
        raise ConnectorError(
            f"{type(exc).__name__} reading the response of {where}: {exc}", retryable=True
        ) from exc
    finally:
        response.close()
    links: dict[str, dict[str, str]] = {}
    try:
        links = {str(key): dict(value) for key, value in response.links.items()}
    except (ValueError, KeyError):
        links = {}
    return HttpResponse(
        status=response.status_code,
        headers=response.headers,
        content=b"".join(chunks),
        url=str(response.url),
        links=links,
    )
