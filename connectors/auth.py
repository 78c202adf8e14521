"""Connector authentication as `httpx.Auth` classes, bound to the connector's trusted origins.

`connector_auth(connector, ...)` gives the `ConnectorAuth` for a connector's `auth_type`. Every class knows
the header / query names it sets (`header_names`, `query_names`) and a `Redactor` of its secrets, and applies
its credentials only to requests on a trusted origin (`connectors.origins.TrustedOrigins`): even a request
built by mistake for another host leaves without them.

OAuth2 client-credentials tokens are cached per connector (keyed by its id and last change, so editing the
connector drops the token) until shortly before they expire. The token request never follows a redirect (it
would re-post `client_secret` elsewhere). On a 401 the token is fetched anew and the request sent once more,
unless the caller handles 401s itself (`refresh_on_401=False`: the connector shape records every attempt and
lets a response script judge the 401 first).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Generator
from typing import Any

import httpx
from django.views.decorators.debug import sensitive_variables

from connectors.client import build_client, send
from connectors.errors import ConnectorError
from connectors.origins import TrustedOrigins, origin_of
from connectors.redaction import Redactor
from designer.crypto import SecretsUnreadable
from designer.models import Connector

# Refresh a token this many seconds before it expires, so a request never carries a token about to lapse.
TOKEN_EXPIRY_MARGIN = 30.0
DEFAULT_TOKEN_LIFETIME = 3600.0

_token_lock = threading.Lock()
_tokens: dict[tuple[int, str], tuple[str, float]] = {}


class ConnectorAuth(httpx.Auth):
    """Base: no credentials. Subclasses set headers or query parameters in `apply`."""

    header_names: frozenset[str] = frozenset()
    query_names: frozenset[str] = frozenset()

    def __init__(self, *, trusted: TrustedOrigins, secrets: tuple[str, ...] = ()) -> None:
        self.trusted = trusted
        self.redactor = Redactor(secrets)

    def prepare(self) -> bool:
        """Get whatever the credentials need before the first request; True when that made a call."""
        return False

    def apply(self, request: httpx.Request) -> None:
        return None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.trusted.trusts(request.url):
            self.apply(request)
        yield request


class BasicAuth(ConnectorAuth):
    header_names = frozenset({"authorization"})

    def __init__(self, *, trusted: TrustedOrigins, username: str, password: str) -> None:
        self.encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        super().__init__(trusted=trusted, secrets=(password, self.encoded))

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Basic {self.encoded}"


class BearerAuth(ConnectorAuth):
    header_names = frozenset({"authorization"})

    def __init__(self, *, trusted: TrustedOrigins, token: str) -> None:
        super().__init__(trusted=trusted, secrets=(token,))
        self.token = token

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.token}"


class ApiKeyHeaderAuth(ConnectorAuth):
    def __init__(self, *, trusted: TrustedOrigins, name: str, key: str) -> None:
        super().__init__(trusted=trusted, secrets=(key,))
        self.name, self.key = name, key
        self.header_names = frozenset({name.lower()})

    def apply(self, request: httpx.Request) -> None:
        request.headers[self.name] = self.key


class ApiKeyQueryAuth(ConnectorAuth):
    def __init__(self, *, trusted: TrustedOrigins, name: str, key: str) -> None:
        super().__init__(trusted=trusted, secrets=(key,))
        self.name, self.key = name, key
        self.query_names = frozenset({name})

    def apply(self, request: httpx.Request) -> None:
        request.url = request.url.copy_set_param(self.name, self.key)


def _cache_key(connector: Connector) -> tuple[int, str]:
    return (int(connector.pk or 0), connector.updated_at.isoformat() if connector.updated_at else "")


def invalidate_token(connector: Connector) -> None:
    """Forget the cached OAuth2 token of `connector` (the next request fetches a new one)."""
    with _token_lock:
        _tokens.pop(_cache_key(connector), None)


def clear_token_cache() -> None:
    with _token_lock:
        _tokens.clear()


class OAuth2ClientCredentials(ConnectorAuth):
    header_names = frozenset({"authorization"})

    def __init__(
        self,
        *,
        trusted: TrustedOrigins,
        connector: Connector,
        client_secret: str,
        timeout: float,
        max_bytes: int,
        refresh_on_401: bool = True,
    ) -> None:
        super().__init__(trusted=trusted, secrets=(client_secret,))
        self.connector = connector
        self.client_secret = client_secret
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.refresh_on_401 = refresh_on_401
        self.token: str | None = None
        self.fetched = 0

    def _fetch(self) -> tuple[str, float]:
        connector = self.connector
        if not connector.token_url:
            raise ConnectorError(f"Connector '{connector.name}' has no OAuth2 token URL.", retryable=False)
        form = {"grant_type": "client_credentials", "client_id": connector.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        if connector.scope:
            form["scope"] = connector.scope
        with build_client(timeout=self.timeout) as client:
            request = client.build_request(
                "POST", connector.token_url, data=form, headers={"Accept": "application/json"}
            )
            response = send(
                client,
                request,
                max_bytes=self.max_bytes,
                total_seconds=self.timeout * 2,
                trusted=TrustedOrigins(origin=origin_of(connector.token_url)),
                redirects="never",
                redactor=self.redactor,
            )
        self.fetched += 1
        if 300 <= response.status < 400:
            raise ConnectorError(
                f"OAuth2 token request of connector '{connector.name}' was redirected"
                f" (HTTP {response.status}); token requests never follow redirects: set the final token URL",
                retryable=False,
            )
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

    def _current_token(self, *, force: bool) -> tuple[str, bool]:
        key = _cache_key(self.connector)
        if not force:
            with _token_lock:
                cached = _tokens.get(key)
            if cached is not None and cached[1] - TOKEN_EXPIRY_MARGIN > time.monotonic():
                return cached[0], False
        token, expires = self._fetch()
        with _token_lock:
            _tokens[key] = (token, expires)
        return token, True

    def _use(self, *, force: bool) -> bool:
        token, fetched = self._current_token(force=force)
        self.token = token
        self.redactor.add(token)
        return fetched

    def prepare(self) -> bool:
        return self._use(force=False)

    def apply(self, request: httpx.Request) -> None:
        if self.token is None:
            self._use(force=False)
        request.headers["Authorization"] = f"Bearer {self.token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.trusted.trusts(request.url):
            yield request
            return
        self.apply(request)
        response = yield request
        if response.status_code == 401 and self.refresh_on_401:
            self._use(force=True)
            self.apply(request)
            yield request


@sensitive_variables()
def connector_auth(
    connector: Connector, *, timeout: float, max_bytes: int, refresh_on_401: bool = True
) -> ConnectorAuth:
    """The `httpx.Auth` for `connector`'s authentication type, bound to its trusted origins."""
    auth = _auth_for_type(connector, timeout=timeout, max_bytes=max_bytes, refresh_on_401=refresh_on_401)
    # Every stored secret is redacted, also one the auth type does not send (left from an earlier type).
    auth.redactor.extend(connector_redactor(connector))
    return auth


@sensitive_variables()
def _auth_for_type(
    connector: Connector, *, timeout: float, max_bytes: int, refresh_on_401: bool
) -> ConnectorAuth:
    secrets = connector.get_secrets()
    trusted = trusted_origins(connector)
    kind = connector.auth_type
    if kind == Connector.AuthType.BASIC:
        return BasicAuth(trusted=trusted, username=connector.username, password=secrets.get("password", ""))
    if kind == Connector.AuthType.BEARER:
        return BearerAuth(trusted=trusted, token=secrets.get("token", ""))
    if kind == Connector.AuthType.API_KEY_HEADER:
        return ApiKeyHeaderAuth(
            trusted=trusted, name=connector.api_key_name or "X-API-Key", key=secrets.get("api_key", "")
        )
    if kind == Connector.AuthType.API_KEY_QUERY:
        return ApiKeyQueryAuth(
            trusted=trusted, name=connector.api_key_name or "api_key", key=secrets.get("api_key", "")
        )
    if kind == Connector.AuthType.OAUTH2_CLIENT_CREDENTIALS:
        return OAuth2ClientCredentials(
            trusted=trusted,
            connector=connector,
            client_secret=secrets.get("client_secret", ""),
            timeout=timeout,
            max_bytes=max_bytes,
            refresh_on_401=refresh_on_401,
        )
    return ConnectorAuth(trusted=trusted)


def trusted_origins(connector: Connector) -> TrustedOrigins:
    return TrustedOrigins.of(connector.base_url, getattr(connector, "allowed_hosts", None) or ())


@sensitive_variables()
def connector_redactor(connector: Connector) -> Redactor:
    """A redactor of every stored secret of `connector` (and its basic credentials' base64)."""
    secrets = connector.get_secrets()
    redactor = Redactor(secrets.values())
    if connector.auth_type == Connector.AuthType.BASIC:
        redactor.add(
            base64.b64encode(f"{connector.username}:{secrets.get('password', '')}".encode()).decode()
        )
    return redactor


def graph_redactor(graph: dict[str, Any]) -> Redactor:
    """A redactor of the stored secrets of every connector the connector shapes of `graph` use."""
    ids = set()
    for shape in graph.get("shapes") or []:
        if isinstance(shape, dict) and shape.get("type") == "connector":
            value = (shape.get("settings") or {}).get("connector")
            if isinstance(value, int) and not isinstance(value, bool):
                ids.add(value)
    redactor = Redactor()
    for connector in Connector.objects.filter(pk__in=ids):
        try:
            redactor.extend(connector_redactor(connector))
        except SecretsUnreadable:
            continue
    return redactor
