"""Connector authentication: applies a connector's credentials to a request and names what to redact.

OAuth2 client-credentials tokens are cached per connector (keyed by its id and last change, so editing the
connector drops the token) until shortly before they expire, and refreshed on demand (response code 4 or a
401) with `invalidate_token`.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from designer.models import Connector
from runs.errors import ConnectorError
from runs.http import build_client, send

# Refresh a token this many seconds before it expires, so a request never carries a token about to lapse.
TOKEN_EXPIRY_MARGIN = 30.0
DEFAULT_TOKEN_LIFETIME = 3600.0
REDACTED = "***"

_token_lock = threading.Lock()
_tokens: dict[tuple[int, str], tuple[str, float]] = {}


@dataclass
class Credentials:
    """What a request carries for its connector, and the strings that must never be stored."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    redact_headers: set[str] = field(default_factory=set)
    redact_query: set[str] = field(default_factory=set)
    token_fetched: bool = False


def _cache_key(connector: Connector) -> tuple[int, str]:
    return (int(connector.pk), connector.updated_at.isoformat() if connector.updated_at else "")


def invalidate_token(connector: Connector) -> None:
    """Forget the cached OAuth2 token of `connector` (the next request fetches a new one)."""
    with _token_lock:
        _tokens.pop(_cache_key(connector), None)


def clear_token_cache() -> None:
    with _token_lock:
        _tokens.clear()


def _fetch_token(
    connector: Connector, secrets: dict[str, str], *, timeout: float, max_bytes: int
) -> tuple[str, float]:
    if not connector.token_url:
        raise ConnectorError(f"Connector '{connector.name}' has no OAuth2 token URL.", retryable=False)
    form = {"grant_type": "client_credentials", "client_id": connector.client_id}
    if secrets.get("client_secret"):
        form["client_secret"] = secrets["client_secret"]
    if connector.scope:
        form["scope"] = connector.scope
    with build_client(timeout=timeout) as client:
        request = client.build_request(
            "POST", connector.token_url, data=form, headers={"Accept": "application/json"}
        )
        response = send(client, request, max_bytes=max_bytes)
    if response.status >= 400:
        raise ConnectorError(
            f"OAuth2 token request of connector '{connector.name}' answered HTTP {response.status}",
            retryable=response.status >= 500 or response.status in (408, 429),
        )
    try:
        body: Any = httpx.Response(200, content=response.content).json()
        token = str(body["access_token"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConnectorError(
            f"OAuth2 token response of connector '{connector.name}' has no access_token", retryable=False
        ) from exc
    try:
        lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    return token, time.monotonic() + lifetime


def oauth_token(
    connector: Connector, secrets: dict[str, str], *, timeout: float, max_bytes: int
) -> tuple[str, bool]:
    """The cached token of `connector`, fetched when missing or about to expire; (token, fetched now)."""
    key = _cache_key(connector)
    with _token_lock:
        cached = _tokens.get(key)
    if cached is not None and cached[1] - TOKEN_EXPIRY_MARGIN > time.monotonic():
        return cached[0], False
    token, expires = _fetch_token(connector, secrets, timeout=timeout, max_bytes=max_bytes)
    with _token_lock:
        _tokens[key] = (token, expires)
    return token, True


def credentials(connector: Connector, *, timeout: float, max_bytes: int) -> Credentials:
    """The headers / query parameters that authenticate a request to `connector`."""
    secrets = connector.get_secrets()
    creds = Credentials(secrets=[value for value in secrets.values() if value])
    kind = connector.auth_type
    if kind == Connector.AuthType.BASIC:
        raw = f"{connector.username}:{secrets.get('password', '')}".encode()
        encoded = base64.b64encode(raw).decode("ascii")
        creds.headers["Authorization"] = f"Basic {encoded}"
        creds.secrets.append(encoded)
        creds.redact_headers.add("authorization")
    elif kind == Connector.AuthType.BEARER:
        creds.headers["Authorization"] = f"Bearer {secrets.get('token', '')}"
        creds.redact_headers.add("authorization")
    elif kind == Connector.AuthType.API_KEY_HEADER:
        name = connector.api_key_name or "X-API-Key"
        creds.headers[name] = secrets.get("api_key", "")
        creds.redact_headers.add(name.lower())
    elif kind == Connector.AuthType.API_KEY_QUERY:
        name = connector.api_key_name or "api_key"
        creds.query[name] = secrets.get("api_key", "")
        creds.redact_query.add(name)
    elif kind == Connector.AuthType.OAUTH2_CLIENT_CREDENTIALS:
        token, fetched = oauth_token(connector, secrets, timeout=timeout, max_bytes=max_bytes)
        creds.headers["Authorization"] = f"Bearer {token}"
        creds.secrets.append(token)
        creds.redact_headers.add("authorization")
        creds.token_fetched = fetched
    creds.secrets = [value for value in creds.secrets if value and len(value) >= 3]
    return creds


def redact_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_headers(
    headers: dict[str, str] | httpx.Headers, names: set[str], secrets: list[str]
) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers.items():
        out[key] = (
            REDACTED
            if key.lower() in names or key.lower() == "authorization"
            else redact_text(value, secrets)
        )
    return out


def redact_url(url: httpx.URL, names: set[str], secrets: list[str]) -> str:
    if names:
        params = [(k, REDACTED if k in names else v) for k, v in url.params.multi_items()]
        url = url.copy_with(params=params)
    return redact_text(str(url), secrets)
