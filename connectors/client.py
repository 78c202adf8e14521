"""The one way out to HTTP: an httpx client factory that tests can point at a transport, and `send`.

Tests wrap code in `use_transport(httpx.MockTransport(handler))` (or talk to a real local server); nothing
monkeypatches httpx. Failures become `ConnectorError` with `retryable` set, which is all the retry policy
reads: transport errors (connect, read timeout, reset) are retryable, malformed requests are not.

Clients never follow redirects themselves: `send` follows them hop by hop, so that credentials stay bound to
the connector's origin (a hop to another origin drops every credential, or is refused, per connector).
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
from typing import TYPE_CHECKING

import certifi
import httpx

from config.websocket_origin import serves_host
from connectors.errors import ConnectorError, RequestRefused
from connectors.origins import TrustedOrigins, describe_origin
from connectors.redaction import Redactor, is_credential_name

if TYPE_CHECKING:
    from connectors.auth import ConnectorAuth

# What to do when a response redirects to another origin: follow it without any credential
# ("drop_credentials", Connector.cross_origin_redirects' default), refuse it ("refuse"), or (token requests)
# never follow any redirect at all ("never"). Anything else is taken as "drop_credentials".
RedirectPolicy = str
MAX_REDIRECTS = 10
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

_lock = threading.Lock()
_transport: httpx.BaseTransport | None = None
_ssl_context: ssl.SSLContext | None = None


TRIGGER_CHAIN_HEADER = "x-patchbay-trigger-chain"


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

    It keeps no cookies between requests (each request carries only what the connector sends) and, like
    every client here, follows no redirect by itself (`send` does, origin-aware). A client built while
    `use_transport` is active is kept for that transport only.
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
    """A new client with `timeout` seconds for connect, read, write and pool waits. Close it after use.

    It does not follow redirects (`send` does, origin-aware) and keeps no cookies between calls of
    different connectors because each call builds its own client.
    """
    with _lock:
        transport = _transport
    if transport is not None:
        return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
    return httpx.Client(verify=_verify(), timeout=timeout, follow_redirects=False)


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


def _redirect_request(
    request: httpx.Request,
    response: httpx.Response,
    *,
    keep_credentials: bool,
    auth: ConnectorAuth | None,
    redactor: Redactor,
) -> httpx.Request:
    """The request a redirect asks for (RFC 9110 method rules, as httpx applies them), credentials dropped
    unless `keep_credentials`."""
    location = response.headers.get("location", "")
    url = request.url.join(location)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConnectorError(
            f"Redirect from {redactor.url(request.url)} to an invalid location {redactor.url(url)!r}",
            retryable=False,
        )
    method = request.method
    if response.status_code == 303 and method != "HEAD":
        method = "GET"
    if response.status_code in (301, 302) and method == "POST":
        method = "GET"
    dropped_body = method != request.method
    headers = [
        (key, value)
        for key, value in request.headers.multi_items()
        if key.lower() not in ("host", "content-length")
        and not (dropped_body and key.lower() in ("content-type", "transfer-encoding"))
    ]
    if not serves_host(url.host):
        # The trigger chain (runs/chain.py) goes to this installation's own hosts only.
        headers = [(key, value) for key, value in headers if key.lower() != TRIGGER_CHAIN_HEADER]
    if not keep_credentials:
        hidden_headers = auth.header_names if auth is not None else frozenset()
        hidden_query = auth.query_names if auth is not None else frozenset()
        headers = [
            (key, value)
            for key, value in headers
            if not is_credential_name(key) and key.lower() not in hidden_headers
        ]
        if url.query:
            secrets = redactor.secrets
            params = [
                (key, value)
                for key, value in url.params.multi_items()
                if key not in hidden_query and value not in secrets
            ]
            url = url.copy_with(params=params)
        if url.userinfo:
            url = url.copy_with(username=None, password=None)
    return httpx.Request(method, url, headers=headers, content=None if dropped_body else request.content)


def _send_following_redirects(
    client: httpx.Client,
    request: httpx.Request,
    *,
    auth: ConnectorAuth | None,
    trusted: TrustedOrigins,
    redirects: RedirectPolicy,
    redactor: Redactor,
) -> httpx.Response:
    keep_credentials = True
    current = request
    for _ in range(MAX_REDIRECTS + 1):
        hop_auth = auth if keep_credentials and trusted.trusts(current.url) else None
        response = client.send(current, auth=hop_auth, stream=True)
        if response.status_code not in REDIRECT_STATUSES or "location" not in response.headers:
            return response
        if redirects == "never":
            return response
        response.close()
        target = current.url.join(response.headers["location"])
        if not trusted.trusts(target):
            if redirects == "refuse":
                raise RequestRefused(
                    f"{redactor.url(current.url)} redirected to another origin ({describe_origin(target)});"
                    " the connector refuses cross-origin redirects"
                )
            keep_credentials = False
        current = _redirect_request(
            current, response, keep_credentials=keep_credentials, auth=auth, redactor=redactor
        )
    raise ConnectorError(
        f"{redactor.url(request.url)} redirected more than {MAX_REDIRECTS} times", retryable=False
    )


def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    max_bytes: int,
    total_seconds: float | None = None,
    auth: ConnectorAuth | None = None,
    trusted: TrustedOrigins | None = None,
    redirects: RedirectPolicy = "drop_credentials",
    redactor: Redactor | None = None,
) -> HttpResponse:
    """Send `request` (authenticated by `auth` while on a trusted origin), follow redirects per `redirects`,
    read at most `max_bytes` of the body, map failures to `ConnectorError`.

    httpx's timeouts bound each network operation; `total_seconds` bounds the whole exchange, so an upstream
    that drips its body byte by byte cannot hold a step (and its lease) forever. Error messages name the
    redacted URL and never carry header values (h11's "Illegal header value b'...'" would).
    """
    redactor = redactor if redactor is not None else Redactor()
    if auth is not None:
        redactor.extend(auth.redactor)
    trusted = trusted if trusted is not None else TrustedOrigins.of(str(request.url))
    names = auth.query_names if auth is not None else frozenset()
    where = f"{request.method} {redactor.url(request.url.copy_with(query=None), names)}"
    deadline = time.monotonic() + total_seconds if total_seconds is not None else None
    try:
        response = _send_following_redirects(
            client, request, auth=auth, trusted=trusted, redirects=redirects, redactor=redactor
        )
    except httpx.TimeoutException as exc:
        raise ConnectorError(f"Timed out ({type(exc).__name__}) calling {where}", retryable=True) from exc
    except httpx.LocalProtocolError as exc:
        # h11 quotes the offending header, value and all: say what is wrong without repeating it.
        raise ConnectorError(
            f"Invalid request {where}: a header name or value holds characters HTTP does not allow",
            retryable=False,
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ConnectorError(f"Invalid request {where}: {redactor.text(str(exc))}", retryable=False) from exc
    except httpx.TransportError as exc:
        raise ConnectorError(
            f"{type(exc).__name__} calling {where}: {redactor.text(str(exc))}", retryable=True
        ) from exc
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
        raise ConnectorError(
            f"Could not decode the response of {where}: {redactor.text(str(exc))}", retryable=False
        ) from exc
    except httpx.TransportError as exc:
        raise ConnectorError(
            f"{type(exc).__name__} reading the response of {where}: {redactor.text(str(exc))}",
            retryable=True,
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
