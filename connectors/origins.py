"""Origins: the (scheme, host, port) a connector's credentials are bound to, and the other hosts it trusts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL | str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, with the scheme's default port filled in."""
    if isinstance(url, httpx.URL):
        return _origin(url)  # already parsed: every request and redirect hop asks, no need to parse again
    return _origin_of_text(url)


@lru_cache(maxsize=1024)
def _origin_of_text(text: str) -> tuple[str, str, int | None]:
    # A connector's base URL is asked about on every request (the same few strings).
    return _origin(httpx.URL(str(text)))


def _origin(parsed: httpx.URL) -> tuple[str, str, int | None]:
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower(), parsed.port or DEFAULT_PORTS.get(scheme)


def describe_origin(url: httpx.URL | str) -> str:
    scheme, host, port = origin_of(url)
    default = DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def normalise_host(entry: str) -> str:
    """An allow-list entry as `host` or `host:port`, lower-case, without scheme or path."""
    text = entry.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    return text.split("/", 1)[0]


@dataclass(frozen=True)
class TrustedOrigins:
    """Where a connector's credentials may go: the origin of its base URL, plus the hosts it lists.

    An allow-listed host is trusted on any port with the base URL's scheme, or on exactly the port given as
    `host:port`. Everything else is another origin: credentials are never sent there.
    """

    origin: tuple[str, str, int | None]
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, base_url: str, allowed_hosts: Iterable[str] = ()) -> TrustedOrigins:
        return cls(
            origin=origin_of(base_url),
            allowed_hosts=frozenset(normalise_host(h) for h in allowed_hosts if h and h.strip()),
        )

    def same_origin(self, url: httpx.URL | str) -> bool:
        return origin_of(url) == self.origin

    def trusts(self, url: httpx.URL | str) -> bool:
        scheme, host, port = origin_of(url)
        if (scheme, host, port) == self.origin:
            return True
        if scheme != self.origin[0]:
            return False
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts
