"""Test a connector from the designer: one real request, built and sent exactly as the connector shape does.

The request comes from `connectors.requests.build_request` (base URL + endpoint path, endpoint query and
headers over the connector's default headers, rendered with the given variables), is authenticated by
`connectors.auth.connector_auth` (an OAuth2 token is fetched anew, so the client credentials are checked too)
and sent with `connectors.client.send` with the connector's timeout, trusted origins and redirect policy.
Every failure of the exchange becomes `ok: false` with a message; every form of every secret is redacted
from the answer. A template that cannot be rendered is the caller's error (TemplateError, a 400).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from connectors.auth import connector_auth, connector_redactor, invalidate_token, trusted_origins
from connectors.client import build_client, send
from connectors.errors import ConnectorError
from connectors.requests import build_request
from designer.models import Connector, Endpoint
from runs.templating import render_template, template_context, uses_payload

BODY_EXCERPT_CHARS = 2000
# A whole exchange may take this many times the connector's timeout (as in the connector shape).
TOTAL_TIME_FACTOR = 2


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


def _renderer(variables: dict[str, str]) -> Any:
    def render(source: Any) -> str:
        text = "" if source is None else str(source)
        context = template_context(
            payload=None,
            meta={},
            variables=variables,
            flow={"id": None, "name": "", "run_id": None, "variables": {}},
            parse=uses_payload(text),
        )
        return render_template(text, context)

    return render


@sensitive_variables()
def check_connection(
    *, connector: Connector, endpoint: Endpoint | None = None, variables: dict[str, str] | None = None
) -> ConnectionCheck:
    """Send one request to `connector` (to `endpoint`, or GET its base URL) and describe the answer.

    Raises `runs.templating.TemplateError` when a template of the request cannot be rendered (bad input:
    the API answers 400), before anything is sent."""
    variables = {str(k): str(v) for k, v in (variables or {}).items()}
    timeout = float(connector.timeout)
    max_bytes = int(settings.PATCHBAY_MAX_PAYLOAD_BYTES)
    redactor = connector_redactor(connector)
    clock = time.monotonic()
    status: int | None = None
    body = ""
    error: str | None = None
    try:
        invalidate_token(connector)
        auth = connector_auth(connector, timeout=timeout, max_bytes=max_bytes)
        redactor.extend(auth.redactor)
        spec = build_request(
            connector=connector, endpoint=endpoint, render=_renderer(variables), payload=None
        )
        auth.prepare()
        redactor.extend(auth.redactor)
        with build_client(timeout=timeout) as client:
            response = send(
                client,
                spec.build(client),
                max_bytes=max_bytes,
                total_seconds=timeout * TOTAL_TIME_FACTOR,
                auth=auth,
                trusted=trusted_origins(connector),
                redirects=connector.cross_origin_redirects,
                redactor=redactor,
            )
        redactor.extend(auth.redactor)
        status = response.status
        body = response.text
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except ConnectorError as exc:
        error = exc.message
    except (httpx.HTTPError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration_ms = (time.monotonic() - clock) * 1000
    return ConnectionCheck(
        ok=error is None,
        status=status,
        duration_ms=duration_ms,
        error=redactor.text(error) if error is not None else None,
        body_excerpt=redactor.text(body)[:BODY_EXCERPT_CHARS],
    )
