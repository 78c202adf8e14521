"""Test a connector from the designer: one real request through the connector shape's client and auth.

The request is built like the connector shape builds it (base URL + endpoint path, endpoint query and
headers over the connector's default headers, rendered with the given variables), authenticated by
`runs.engine.auth.credentials` (an OAuth2 token is fetched anew, so the client credentials are checked too)
and sent with `runs.http.build_client` / `send` and the connector's timeout. Every failure becomes
`ok: false` with a message; secrets are redacted from everything returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from designer.models import Connector, Endpoint
from runs.engine import auth
from runs.errors import ConnectorError
from runs.http import build_client, send
from runs.templating import TemplateError, render_template, template_context, uses_payload

BODY_EXCERPT_CHARS = 2000
# A whole exchange may take this many times the connector's timeout (as in the connector shape).
TOTAL_TIME_FACTOR = 3


@dataclass
class ConnectionCheck:
    ok: bool
    status: int | None
    duration_ms: float
    error: str | None
    body_excerpt: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "error": self.error,
            "body_excerpt": self.body_excerpt,
        }


def _render(source: Any, variables: dict[str, str]) -> str:
    text = "" if source is None else str(source)
    context = template_context(
        payload=None,
        meta={},
        variables=variables,
        flow={"id": None, "name": "", "run_id": None, "variables": {}},
        parse=uses_payload(text),
    )
    return render_template(text, context)


def _request(
    client: httpx.Client,
    connector: Connector,
    endpoint: Endpoint | None,
    variables: dict[str, str],
    creds: auth.Credentials,
) -> httpx.Request:
    headers = {str(k): _render(v, variables) for k, v in (connector.default_headers or {}).items()}
    if endpoint is None:
        method, url, params, content = "GET", connector.base_url, {}, None
    else:
        path = _render(endpoint.path, variables).strip()
        if path.startswith(("http://", "https://")):
            url = path
        elif path:
            url = connector.base_url.rstrip("/") + "/" + path.lstrip("/")
        else:
            url = connector.base_url
        method = endpoint.method.upper()
        params = {str(k): _render(v, variables) for k, v in (endpoint.query or {}).items()}
        headers.update({str(k): _render(v, variables) for k, v in (endpoint.headers or {}).items()})
        content = None
        if endpoint.body_template and method not in ("GET", "HEAD"):
            content = _render(endpoint.body_template, variables).encode("utf-8")
    return client.build_request(
        method,
        url,
        params={**params, **creds.query} or None,
        headers={**headers, **creds.headers},
        content=content,
    )


def check_connection(
    *, connector: Connector, endpoint: Endpoint | None = None, variables: dict[str, str] | None = None
) -> ConnectionCheck:
    """Send one request to `connector` (to `endpoint`, or GET its base URL) and describe the answer."""
    variables = {str(k): str(v) for k, v in (variables or {}).items()}
    timeout = float(connector.timeout)
    max_bytes = int(settings.PATCHBAY_MAX_PAYLOAD_BYTES)
    secrets = [value for value in connector.get_secrets().values() if value and len(value) >= 3]
    clock = time.monotonic()
    status: int | None = None
    body = ""
    error: str | None = None
    try:
        auth.invalidate_token(connector)
        creds = auth.credentials(connector, timeout=timeout, max_bytes=max_bytes)
        secrets.extend(creds.secrets)
        with build_client(timeout=timeout) as client:
            request = _request(client, connector, endpoint, variables, creds)
            response = send(client, request, max_bytes=max_bytes, total_seconds=timeout * TOTAL_TIME_FACTOR)
        status = response.status
        body = response.text
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except ConnectorError as exc:
        error = exc.message
    except TemplateError as exc:
        error = f"Template error: {exc.message}"
    except (httpx.HTTPError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = (time.monotonic() - clock) * 1000
    return ConnectionCheck(
        ok=error is None,
        status=status,
        duration_ms=duration_ms,
        error=auth.redact_text(error, secrets) if error is not None else None,
        body_excerpt=auth.redact_text(body, secrets)[:BODY_EXCERPT_CHARS],
    )
