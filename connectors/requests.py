"""Request building: connector + endpoint + a placeholder renderer -> a `RequestSpec`, origin-checked.

The path template is joined to the connector's base URL and can never change its scheme, host or port: each
placeholder value is percent-encoded (a `/`, `?`, `#`, `..` or `//host` in the data stays data), and the
resulting URL must still be on the connector's origin. A path template written as an absolute URL must name
the connector's origin or a host on its allow-list. A query string written in the path is merged with the
endpoint's query parameters (the endpoint's win on equal names).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from connectors.errors import RequestRefused
from connectors.origins import TrustedOrigins, describe_origin
from designer.models import Connector, Endpoint

METHODS_WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")
CONTENT_TYPES = {
    "json": "application/json",
    "form": "application/x-www-form-urlencoded",
    "xml": "application/xml",
    "raw": "text/plain; charset=utf-8",
}
PLACEHOLDER_START, PLACEHOLDER_END = "[[", "]]"

# Renders one template setting (placeholders of the current payload, meta and variables) to text.
Render = Callable[[Any], str]


@dataclass
class RequestSpec:
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None

    def build(self, client: httpx.Client) -> httpx.Request:
        """The httpx request (without credentials: the connector's `httpx.Auth` adds them when sent)."""
        return client.build_request(
            self.method, self.url, params=self.params or None, headers=self.headers, content=self.content
        )


def _split_placeholders(template: str) -> list[tuple[bool, str]]:
    """[(is_placeholder, text)] of `template`, in order."""
    parts: list[tuple[bool, str]] = []
    rest = template
    while PLACEHOLDER_START in rest:
        before, _, after = rest.partition(PLACEHOLDER_START)
        inner, found, remainder = after.partition(PLACEHOLDER_END)
        if not found:
            break
        if before:
            parts.append((False, before))
        parts.append((True, PLACEHOLDER_START + inner + PLACEHOLDER_END))
        rest = remainder
    if rest:
        parts.append((False, rest))
    return parts


def render_path(template: str, render: Render) -> str:
    """`template` rendered with every placeholder value percent-encoded (nothing in it stays syntax)."""
    if "[%" in template:
        # Block syntax cannot be split safely; the origin check on the result still holds.
        return render(template)
    return "".join(
        quote(render(text), safe="") if is_placeholder else text
        for is_placeholder, text in _split_placeholders(template)
    )


def endpoint_url(
    connector: Connector, path_template: str, render: Render, trusted: TrustedOrigins
) -> tuple[str, dict[str, str]]:
    """(URL without query, query parameters written in the path) for `path_template` on `connector`."""
    template = (path_template or "").strip()
    absolute = template.lower().startswith(("http://", "https://"))
    path = render_path(template, render).strip()
    if absolute:
        url = path
    elif path:
        url = connector.base_url.rstrip("/") + "/" + path.lstrip("/")
    else:
        url = connector.base_url
    url = url.partition("#")[0]
    url, _, query = url.partition("?")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise RequestRefused(f"The endpoint path does not make a valid URL: {exc}") from exc
    allowed = trusted.trusts(parsed) if absolute else trusted.same_origin(parsed)
    if not allowed:
        raise RequestRefused(
            f"The endpoint path would call {describe_origin(parsed)}, not the connector's origin"
            f" {describe_origin(connector.base_url)}; a path cannot change scheme, host or port"
            + (" (list the host in the connector's allowed hosts)" if absolute else "")
        )
    literal_query = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    return url, literal_query


def _form_body(text: str) -> str:
    try:
        fields = json.loads(text)
    except ValueError:
        return text
    if isinstance(fields, dict):
        return urlencode({str(k): "" if v is None else str(v) for k, v in fields.items()})
    return text


def build_request(
    *, connector: Connector, endpoint: Endpoint | None, render: Render, payload: str | None
) -> RequestSpec:
    """The request a connector shape sends for `endpoint` (GET the base URL without one).

    Headers: the connector's default headers, then the endpoint's. Body (POST / PUT / PATCH / DELETE): the
    rendered body template (JSON checked, form built from a JSON object) or else the payload (not for
    DELETE). Raises `RequestRefused` for a path that leaves the connector's origin or a body template that
    does not render valid JSON; `TemplateError` from `render` passes through.
    """
    trusted = TrustedOrigins.of(connector.base_url, connector.allowed_hosts or ())
    headers = {str(k): render(v) for k, v in (connector.default_headers or {}).items()}
    if endpoint is None:
        url, params = endpoint_url(connector, "", render, trusted)
        return RequestSpec(method="GET", url=url, params=params, headers=headers)
    url, params = endpoint_url(connector, endpoint.path, render, trusted)
    params.update({str(k): render(v) for k, v in (endpoint.query or {}).items()})
    headers.update({str(k): render(v) for k, v in (endpoint.headers or {}).items()})
    method = endpoint.method.upper()
    content: bytes | None = None
    if method in METHODS_WITH_BODY:
        body_format = endpoint.body_format or "json"
        if endpoint.body_template:
            text = render(endpoint.body_template)
            if body_format == "json":
                try:
                    json.loads(text)
                except ValueError as exc:
                    raise RequestRefused(f"The body template did not render valid JSON: {exc}") from exc
            elif body_format == "form":
                text = _form_body(text)
            content = text.encode("utf-8")
        elif payload is not None and method != "DELETE":
            content = payload.encode("utf-8")
        if content is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = CONTENT_TYPES.get(body_format, CONTENT_TYPES["raw"])
    return RequestSpec(method=method, url=url, params=params, headers=headers, content=content)
