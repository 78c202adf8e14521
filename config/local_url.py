"""The URL by which this machine reaches a server that listens on HOST:PORT (`make run`'s variables)."""

from __future__ import annotations

# A server bound to every address is reached on the loopback one (this builds a URL; it binds nothing).
_ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}  # noqa: S104


def local_url(host: str, port: int | str, path: str = "/") -> str:
    host = _ANY_ADDRESS.get(host, host).strip("[]")
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{int(port)}{path}"
