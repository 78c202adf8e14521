"""Connector: calls an endpoint once per input payload, judged per DESIGN section 5.

Each HTTP request is an `Attempt` row (request and response, secrets redacted) and a run log line. With a
response script, the script decides per response (codes 0-4); without one, 2xx continues, 408 / 429 / 5xx
and transport errors retry the step, anything else fails it. Paginated endpoints emit one payload per page.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from connectors.auth import ConnectorAuth, connector_auth, invalidate_token, trusted_origins
from connectors.client import HttpResponse, connector_client, send
from connectors.errors import ConnectorError
from connectors.pagination import Pager
from connectors.requests import RequestSpec, build_request
from designer.models import Connector, Endpoint
from runs import chain
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload, setting_id
from runs.models import Attempt, LogLine
from runs.payloads import storable_text
from runs.rows import Part, insert_rows, select_joined, set_related

# Request and response bodies kept on an Attempt row are cut at this many characters.
ATTEMPT_BODY_LIMIT = 64 * 1024
RETRY_STATUSES = (408, 429)
# A whole request (connect, send, every chunk of the body) may take this many times the timeout.
TOTAL_TIME_FACTOR = 2
CODE_LEVELS = {
    0: LogLine.Level.INFO,
    1: LogLine.Level.WARNING,
    2: LogLine.Level.WARNING,
    3: LogLine.Level.ERROR,
    4: LogLine.Level.WARNING,
}
OUTCOME_LEVELS = {
    "continue": LogLine.Level.INFO,
    "retry_step": LogLine.Level.WARNING,
    "retry_run": LogLine.Level.WARNING,
    "reauthenticate": LogLine.Level.WARNING,
    "fail_run": LogLine.Level.ERROR,
    "transport_error": LogLine.Level.WARNING,
    "script_error": LogLine.Level.ERROR,
}


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds from now: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # nan, inf and overflowing numbers say nothing usable: the ordinary backoff applies.
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


@dataclass
class Judgement:
    """What one response (or transport error) means for the step."""

    # continue | retry_step | retry_run | fail_run | reauthenticate | transport_error | script_error
    outcome: str
    payload: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    retry_after: float | None = None
    response_code: int | None = None
    message: str = ""
    retryable: bool = False


def _cut(text: str | None) -> str | None:
    text = storable_text(text)
    if text is None or len(text) <= ATTEMPT_BODY_LIMIT:
        return text
    return text[:ATTEMPT_BODY_LIMIT] + f"... [{len(text) - ATTEMPT_BODY_LIMIT} more characters]"


class ConnectorCall:
    def __init__(
        self,
        *,
        context: StepContext,
        connector: Connector,
        endpoint: Endpoint,
        work: WorkPayload,
        variables: dict[str, str],
    ) -> None:
        self.context = context
        self.connector = connector
        self.endpoint = endpoint
        self.work = work
        self.variables = variables
        shape_timeout = context.settings.get("timeout")
        self.timeout = (
            float(shape_timeout) if shape_timeout not in (None, "", 0) else float(connector.timeout)
        )
        self.max_bytes = int(django_settings.PATCHBAY_MAX_PAYLOAD_BYTES)
        # Numbering continues across step attempts (and a resumed interrupted attempt).
        self.attempt_number = Attempt.objects.filter(step=context.step).count() if context.attempt > 1 else 0
        self.script_id = context.settings.get("response_script")
        self.script_version = context.settings.get("response_script_version")
        self.last_status: int | None = None
        self.trusted = trusted_origins(connector)

    # --- building the request ----------------------------------------------------------------------------
    def _render(self, template: Any) -> str:
        return self.context.render(template, self.work, self.variables)

    def build_request(self) -> RequestSpec:
        return build_request(
            connector=self.connector, endpoint=self.endpoint, render=self._render, payload=self.work.payload
        )

    # --- one request -------------------------------------------------------------------------------------
    def _record(
        self,
        *,
        request: httpx.Request,
        auth: ConnectorAuth,
        started: datetime,
        duration_ms: float,
        response: HttpResponse | None,
        judgement: Judgement,
    ) -> None:
        redactor = auth.redactor
        self.context.remember_secrets(redactor)
        body = request.content.decode("utf-8", errors="replace") if request.content else None
        request_record = {
            "method": request.method,
            "url": redactor.url(request.url, auth.query_names),
            "headers": redactor.headers(request.headers, auth.header_names),
            "body": redactor.text(_cut(body) or "") if body else body,
        }
        response_record = None
        if response is not None:
            response_record = {
                "status": response.status,
                "headers": redactor.headers(response.headers),
                "body": redactor.text(_cut(response.text) or ""),
            }
        # Stored at once, as the request ends (one INSERT, its own transaction in autocommit mode): an
        # attempt interrupted by a crash stays recorded.
        attempt = Attempt(
            step=self.context.step,
            number=self.attempt_number,
            started_at=started,
            duration_ms=round(duration_ms, 3),
            request=request_record,
            response=response_record,
            http_status=response.status if response is not None else None,
            outcome=judgement.outcome,
            response_code=judgement.response_code,
            message=redactor.text(judgement.message or judgement.error)[:10000],
        )
        insert_rows([attempt])
        where = f"Attempt {self.attempt_number}: {request.method} {request_record['url']}"
        if response is not None:
            text = f"{where} -> HTTP {response.status} in {duration_ms:.0f} ms"
        else:
            text = f"{where} failed after {duration_ms:.0f} ms: {judgement.error}"
        if judgement.outcome != "continue":
            text += f" ({judgement.outcome.replace('_', ' ')})"
        self.context.log(OUTCOME_LEVELS.get(judgement.outcome, LogLine.Level.INFO), redactor.text(text))

    def request_once(
        self, spec: RequestSpec, *, reauthenticated: bool
    ) -> tuple[Judgement, HttpResponse | None]:
        self.context.extend_lease(self.timeout * TOTAL_TIME_FACTOR)
        # 401s are judged here (recorded as attempts, seen by the response script), not inside the auth.
        auth = connector_auth(
            self.connector, timeout=self.timeout, max_bytes=self.max_bytes, refresh_on_401=False
        )
        self.context.remember_secrets(auth.redactor)
        if auth.prepare():
            self.context.remember_secrets(auth.redactor)
            self.context.add_stat("http_calls", 1)
            self.context.log(
                LogLine.Level.INFO, f"Fetched an OAuth2 token for connector '{self.connector.name}'"
            )
        # A kept-alive client of this connector (connectors.client): no new client or connection per request.
        with nullcontext(connector_client(connector_id=self.connector.pk, timeout=self.timeout)) as client:
            request = spec.build(client)
            # A webhook of this installation called by this run carries on its trigger chain
            # (runs/chain.py); a request to any other host never gets the header.
            chain.stamp(request, self.context.run)
            self.attempt_number += 1
            started = timezone.now()
            clock = time.monotonic()
            response: HttpResponse | None = None
            try:
                response = send(
                    client,
                    request,
                    max_bytes=self.max_bytes,
                    total_seconds=self.timeout * TOTAL_TIME_FACTOR,
                    auth=auth,
                    trusted=self.trusted,
                    redirects=self.connector.cross_origin_redirects,
                )
            except ConnectorError as exc:
                judgement = Judgement(
                    outcome="transport_error", error=exc.message, retryable=exc.retryable, message=exc.message
                )
            duration_ms = (time.monotonic() - clock) * 1000
        self.context.add_stat("http_calls", 1)
        self.context.add_stat("bytes_out", len(request.content or b""))
        if response is not None:
            self.last_status = response.status
            self.context.add_stat("bytes_in", len(response.content))
            try:
                judgement = self.judge(response, reauthenticated=reauthenticated)
            except StepFailed as exc:
                judgement = Judgement(outcome="script_error", error=exc.message, message=exc.message)
        self._record(
            request=request,
            auth=auth,
            started=started,
            duration_ms=duration_ms,
            response=response,
            judgement=judgement,
        )
        return judgement, response

    # --- judging a response --------------------------------------------------------------------------------
    def judge(self, response: HttpResponse, *, reauthenticated: bool) -> Judgement:
        if self.script_id not in (None, ""):
            return self.judge_with_script(response)
        return self.judge_by_default(response, reauthenticated=reauthenticated)

    def judge_by_default(self, response: HttpResponse, *, reauthenticated: bool) -> Judgement:
        status = response.status
        described = f"HTTP {status} from {self.endpoint.method} {self.endpoint.name}"
        if 200 <= status < 300:
            return Judgement(outcome="continue", payload=response.text, meta=dict(self.work.meta))
        if (
            status == 401
            and not reauthenticated
            and self.connector.auth_type == Connector.AuthType.OAUTH2_CLIENT_CREDENTIALS
        ):
            return Judgement(outcome="reauthenticate", error=described)
        if status in RETRY_STATUSES or status >= 500:
            return Judgement(
                outcome="retry_step",
                error=described,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        return Judgement(outcome="fail_run", error=described)

    def judge_with_script(self, response: HttpResponse) -> Judgement:
        data = self.context.script_data(self.work, self.variables)
        given_payload = data["payload"]
        data["response"] = {
            "status": response.status,
            "headers": dict(response.headers),
            "body": response.text,
        }
        result = self.context.run_script(script_id=self.script_id, version=self.script_version, data=data)
        raw_code = getattr(result, "response_code", None)
        try:
            code = 0 if raw_code in (None, "") else int(raw_code)
        except (TypeError, ValueError):
            code = -1
        message = str(getattr(result, "message", None) or "")
        if message:
            self.context.log(CODE_LEVELS.get(code, LogLine.Level.WARNING), message)
        meta = result.meta if isinstance(getattr(result, "meta", None), dict) else dict(self.work.meta)
        reason = message or f"Response script returned response_code {code} (HTTP {response.status})"
        if code == 0:
            payload = result.payload if result.payload != given_payload else response.text
            if payload is not None and not isinstance(payload, str):
                payload = json.dumps(payload)
            return Judgement(
                outcome="continue", payload=payload, meta=dict(meta), response_code=0, message=message
            )
        if code == 1:
            return Judgement(
                outcome="retry_step",
                error=reason,
                response_code=1,
                message=message,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        if code == 2:
            return Judgement(outcome="retry_run", error=reason, response_code=2, message=message)
        if code == 3:
            return Judgement(outcome="fail_run", error=reason, response_code=3, message=message)
        if code == 4:
            return Judgement(outcome="reauthenticate", error=reason, response_code=4, message=message)
        return Judgement(
            outcome="fail_run",
            error=f"Response script returned an unknown response_code {raw_code!r}",
            message=message,
        )

    # --- the step ----------------------------------------------------------------------------------------
    def request_with_reauthentication(self, spec: RequestSpec) -> tuple[Judgement, HttpResponse | None]:
        judgement, response = self.request_once(spec, reauthenticated=False)
        if judgement.outcome != "reauthenticate":
            return judgement, response
        # Code 4 / a 401 with OAuth2: fetch new credentials and try the request once more, at once.
        invalidate_token(self.connector)
        self.connector.refresh_from_db()
        self.context.log(LogLine.Level.WARNING, f"Re-authenticating connector '{self.connector.name}'")
        judgement, response = self.request_once(spec, reauthenticated=True)
        if judgement.outcome == "reauthenticate":
            judgement = Judgement(
                outcome="fail_run",
                error=f"{judgement.error} (still refused after re-authenticating)",
                response_code=judgement.response_code,
                message=judgement.message,
            )
        return judgement, response

    def execute(self) -> Outcome:
        pager = Pager(self.endpoint.pagination, trusted=self.trusted)
        max_pages = self.context.settings.get("max_pages") or (self.endpoint.pagination or {}).get(
            "max_pages"
        )
        try:
            max_pages = max(1, min(int(max_pages or 100), 1000))
        except (TypeError, ValueError):
            max_pages = 100
        spec = pager.first(self.build_request())
        emits: list[Emit] = []
        page = 1
        while True:
            judgement, response = self.request_with_reauthentication(spec)
            outcome = self._outcome(judgement)
            if outcome is not None:
                return outcome
            meta = {**judgement.meta, "http_status": str(self.last_status)}
            if pager.active:
                meta["page"] = str(page)
            emits.append(Emit(judgement.payload, meta))
            if response is None or not pager.active:
                break
            next_spec = pager.next(spec, body=response.text, links=response.links, url=response.url)
            if next_spec is None:
                break
            if page >= max_pages:
                self.context.log(
                    LogLine.Level.WARNING, f"Pagination stopped at max_pages ({max_pages}); more pages remain"
                )
                break
            spec = next_spec
            page += 1
        return Outcome.ok(emits, http_status=self.last_status)

    def _outcome(self, judgement: Judgement) -> Outcome | None:
        status = self.last_status
        if judgement.outcome == "continue":
            return None
        if judgement.outcome == "transport_error":
            if judgement.retryable:
                return Outcome.retry(judgement.error, http_status=status)
            return Outcome.fail(judgement.error, http_status=status)
        if judgement.outcome == "retry_step":
            return Outcome.retry(judgement.error, retry_after=judgement.retry_after, http_status=status)
        if judgement.outcome == "retry_run":
            return Outcome.fail(judgement.error, retry_run=True, http_status=status)
        return Outcome.fail(judgement.error, http_status=status)


ENDPOINT_PARTS = (Part(Endpoint, "e"), Part(Connector, "c"))


def _endpoint_with_connector(*, endpoint_id: int, connector_id: int) -> Endpoint | None:
    """`Endpoint.objects.select_related("connector").filter(pk=..., connector_id=...).first()`, read
    through a statement built once (runs.rows): connectors and endpoints can be edited at any time, so
    every step reads them afresh, only without compiling a QuerySet."""
    quote = connection.ops.quote_name
    found = select_joined(
        ENDPOINT_PARTS,
        f"FROM {quote(Endpoint._meta.db_table)} e INNER JOIN {quote(Connector._meta.db_table)} c"
        f" ON (c.{quote('id')} = e.{quote('connector_id')})"
        f" WHERE e.{quote('id')} = %s AND e.{quote('connector_id')} = %s",
        [endpoint_id, connector_id],
    )
    if not found:
        return None
    endpoint, connector = found[0]
    set_related(endpoint, "connector", connector)
    return endpoint  # type: ignore[return-value]


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    connector_id, endpoint_id = setting_id(settings.get("connector")), setting_id(settings.get("endpoint"))
    endpoint = None
    if connector_id is not None and endpoint_id is not None:
        endpoint = _endpoint_with_connector(endpoint_id=endpoint_id, connector_id=connector_id)
    connector = endpoint.connector if endpoint is not None else None
    if connector is None and connector_id is not None:
        connector = Connector.objects.filter(pk=connector_id).first()
    if connector is None:
        raise StepFailed(f"Connector {settings.get('connector')!r} does not exist.")
    if endpoint is None:
        raise StepFailed(
            f"Endpoint {settings.get('endpoint')!r} does not exist on connector '{connector.name}'."
        )
    variables = {
        str(name): context.render(template, item)
        for name, template in (settings.get("variables") or {}).items()
    }
    work = item
    if endpoint.pre_request_script_id is not None:
        result = context.run_script(
            script_id=endpoint.pre_request_script_id, version=None, data=context.script_data(item, variables)
        )
        if isinstance(getattr(result, "variables", None), dict):
            variables = {str(k): str(v) for k, v in result.variables.items()}
        meta = result.meta if isinstance(getattr(result, "meta", None), dict) else item.meta
        work = WorkPayload(result.payload if isinstance(result.payload, str) else item.payload, dict(meta))
    call = ConnectorCall(
        context=context, connector=connector, endpoint=endpoint, work=work, variables=variables
    )
    return call.execute()
