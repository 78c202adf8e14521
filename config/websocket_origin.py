"""The websocket handshake's origin check: the Origin header must name this very site (scheme, host and
port) or one of PATCHBAY_CSRF_TRUSTED_ORIGINS, the rule Django's CSRF check applies to unsafe requests.

channels' `AllowedHostsOriginValidator` compares the origin's host with ALLOWED_HOSTS only, so
`http://localhost:9999` (another local app) or `http://` for an `https` site passed it.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_tuple(scheme: str, host: str, port: int | str | None) -> tuple[str, str, int] | None:
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    try:
        number = int(port) if port not in (None, "") else DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return scheme, host.lower().strip("[]"), number


def parse_origin(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an Origin header value, None when it is not an http(s) origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    return _origin_tuple(parts.scheme, parts.hostname or "", port)


def site_origin(scope: dict[str, Any]) -> tuple[str, str, int] | None:
    """(scheme, host, port) of the site the handshake reached: the Host header, http for ws, https for
    wss. None when the host is not one of ALLOWED_HOSTS."""
    host = _header(scope, b"host")
    if host is None:
        return None
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return _origin_tuple(scheme, domain, port or None)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serves_host(host: str) -> bool:
    """True when `host` (a URL's host name, IPv6 with or without brackets) is one this Patchbay serves: a
    concrete ALLOWED_HOSTS entry (not `*`, not a `.domain` pattern), the host of PATCHBAY_BASE_URL, or a
    loopback address that ALLOWED_HOSTS allows. The same ALLOWED_HOSTS match as `site_origin`."""
    bare = host.lower().strip("[]").rstrip(".")
    if not bare:
        return False
    candidate = f"[{bare}]" if ":" in bare else bare
    concrete = [entry for entry in settings.ALLOWED_HOSTS if entry != "*" and not entry.startswith(".")]
    if validate_host(candidate, concrete):
        return True
    base_url = str(getattr(settings, "PATCHBAY_BASE_URL", "") or "")
    if base_url:
        try:
            base_host = (urlsplit(base_url).hostname or "").lower()
        except ValueError:
            base_host = ""
        if base_host and base_host == bare:
            return True
    return _is_loopback(bare) and validate_host(candidate, settings.ALLOWED_HOSTS)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for header_name, value in scope.get("headers", []):
        if header_name == name:
            try:
                return value.decode("latin-1")
            except UnicodeDecodeError:
                return None
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin_header = _header(scope, b"origin")
    origin = parse_origin(origin_header) if origin_header is not None else None
    site = site_origin(scope)
    if origin is None or site is None:
        return False
    if origin == site:
        return True
    trusted = {parse_origin(value) for value in settings.CSRF_TRUSTED_ORIGINS}
    return origin in trusted


class SameOriginValidator:
    """ASGI middleware refusing a websocket handshake whose origin is not this site (see module doc)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator only guards websocket connections")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
