"""The webhook trigger: `GET|POST /hooks/{key}/` starts a run of the flow with that webhook key.

The view is async so that a caller waiting for the final payload holds no server thread while it waits: the
database work goes through `sync_to_async`, and the wait sleeps on an in-process wake-up with a polling
fallback (runs.triggers.waiters).

Input: a non-empty POST/PUT/PATCH body is the payload; otherwise the query parameters become a JSON object
payload. The method, path, query string and request headers (except credentials and cookies) go into meta.
Reply (the trigger's `response` settings, docs/shapes.md): `immediate` answers at once, by default 200
`{"message": "Flow initialised.", "run": id}`; `final_payload` answers with the run's final payload once it
ends, following automatic run retries, or 504 when it has not ended within `timeout` seconds.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from config.json_input import webhook_body_problem
from designer.models import Flow
from runs import chain
from runs.errors import RunRefused
from runs.lifecycle import enqueue_run
from runs.models import Run
from runs.triggers.flows import deployed_version, trigger_settings
from runs.triggers.rate_limit import WebhookRateLimited, limit_webhook_runs
from runs.triggers.waiters import RunEventSubscription, wait_for_run_change

logger = logging.getLogger(__name__)

# DESIGN section 4: payload meta holds at most 10240 bytes in total.
META_LIMIT_BYTES = 10240
# Never copied into a run's meta (they would be stored and shown in run logs).
SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}
CONTENT_TYPES = {"json": "application/json", "xml": "application/xml", "text": "text/plain; charset=utf-8"}
DEFAULT_MESSAGE = "Flow initialised."
# Polling the database while waiting: fast at first (short runs), then at most every POLL_MAX seconds.
POLL_FIRST = 0.01
POLL_MAX = 0.25
POLL_MAX_WITH_EVENTS = 1.0


@dataclass(frozen=True)
class ResponseSettings:
    mode: str = "immediate"
    timeout: float = 30.0
    status: int = 200
    body: str | None = None
    format: str = "json"

    @classmethod
    def from_trigger(cls, settings: dict[str, Any]) -> ResponseSettings:
        response = settings.get("response") or {}
        if not isinstance(response, dict):
            response = {}
        body = response.get("body")
        return cls(
            mode=str(response.get("mode") or "immediate"),
            timeout=float(response.get("timeout") or 30.0),
            status=int(response.get("status") or 200),
            body=str(body) if body not in (None, "") else None,
            format=str(response.get("format") or "json")
            if response.get("format") in CONTENT_TYPES
            else "json",
        )


def _error(http_status: int, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": [], **extra}, status=http_status)


# Webhook calls of one process use at most this many database connections at a time: each call's database
# work waits for a turn and closes its connection when done, so a burst of callers (or many callers waiting
# for a final payload) queues here instead of exhausting PostgreSQL's max_connections ("too many clients").
DATABASE_TURNS = 20
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _database_turns() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    turns = _turns.get(loop)
    if turns is None:
        turns = _turns[loop] = asyncio.Semaphore(DATABASE_TURNS)
    return turns


def _with_database(function: Any) -> Any:
    """Run `function` where Django runs the sync code of this request: a thread of the request's own
    (asgiref's per-request thread-sensitive context), one of DATABASE_TURNS at a time, closing the
    thread's connection afterwards (outside a transaction, that is: never a test's).
    """

    @functools.wraps(function)
    def closing(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                connection.close()

    call = sync_to_async(closing, thread_sensitive=True)

    async def in_turn(*args: Any, **kwargs: Any) -> Any:
        async with _database_turns():
            return await call(*args, **kwargs)

    return in_turn


@dataclass(frozen=True)
class _Target:
    flow: Flow
    flow_name: str
    enabled: bool
    has_deployed_version: bool
    trigger_kind: str
    response: ResponseSettings


def _load_target(key: str) -> _Target | None:
    flow = Flow.objects.filter(webhook_key=key).first()
    if flow is None:
        return None
    version = deployed_version(flow)
    settings = trigger_settings(version.graph if version is not None else None)
    return _Target(
        flow=flow,
        flow_name=flow.name,
        enabled=flow.enabled,
        has_deployed_version=version is not None,
        trigger_kind=str(settings.get("kind", "")),
        response=ResponseSettings.from_trigger(settings),
    )


def _enqueue(flow: Flow, payload: str | None, meta: dict[str, str]) -> int:
    # A call made by a Patchbay run of this installation carries its trigger chain (runs/chain.py).
    trigger_chain = chain.chain_from_token(meta.pop(chain.META_KEY, None))
    limit_webhook_runs(flow)
    return enqueue_run(
        flow=flow, trigger=Run.Trigger.WEBHOOK, payload=payload, meta=meta, trigger_chain=trigger_chain
    ).pk


def _run_state(run_id: int) -> dict[str, Any] | None:
    """Where the run (or the newest automatic retry of it) stands."""
    fields = ("id", "status", "final_payload", "error")
    row = Run.objects.filter(pk=run_id).values(*fields).first()
    current: dict[str, Any] | None = dict(row) if row is not None else None
    while current is not None and current["status"] == Run.Status.FAILED:
        # Response code 2 fails the run and queues a linked attempt: the caller waits for that one.
        retry = Run.objects.filter(retry_of_id=current["id"]).values(*fields).order_by("-id").first()
        if retry is None:
            break
        current = dict(retry)
    return current


def request_payload(request: HttpRequest) -> str | None:
    """The body when there is one, otherwise the query parameters as a JSON object (None when empty)."""
    body = request.body
    if body:
        return body.decode("utf-8", errors="replace")
    if request.GET:
        params = {name: values[0] if len(values) == 1 else values for name, values in request.GET.lists()}
        return json.dumps(params)
    return None


def request_meta(request: HttpRequest) -> dict[str, str]:
    """Method, path, query string and headers as `http_*` / `header_*` meta keys, within META_LIMIT_BYTES."""
    meta = {
        "http_method": request.method or "",
        "http_path": request.path,
        "http_query": request.META.get("QUERY_STRING", ""),
    }
    size = sum(len(key) + len(value) for key, value in meta.items())
    for name, value in request.headers.items():
        lowered = name.lower()
        if lowered in SECRET_HEADERS:
            continue
        key = "header_" + lowered.replace("-", "_")
        entry_size = len(key.encode()) + len(str(value).encode())
        if size + entry_size > META_LIMIT_BYTES:
            # Dropping a header beats failing the trigger; the body (the payload) is what matters.
            continue
        meta[key] = str(value)
        size += entry_size
    return meta


def _reply(response: ResponseSettings, body: str | None, run_id: int) -> HttpResponse:
    if body is None:
        if response.format == "xml":
            body = f"<response><message>{escape(DEFAULT_MESSAGE)}</message><run>{run_id}</run></response>"
        elif response.format == "text":
            body = f"{DEFAULT_MESSAGE} Run {run_id}."
        else:
            body = json.dumps({"message": DEFAULT_MESSAGE, "run": run_id})
    reply = HttpResponse(body, status=response.status, content_type=CONTENT_TYPES[response.format])
    reply["X-Patchbay-Run"] = str(run_id)
    return reply


async def _await_final_payload(run_id: int, response: ResponseSettings) -> HttpResponse:
    subscription = RunEventSubscription()
    try:
        return await _await_with(subscription, run_id, response)
    finally:
        await subscription.close()


async def _await_with(
    subscription: RunEventSubscription, run_id: int, response: ResponseSettings
) -> HttpResponse:
    deadline = time.monotonic() + response.timeout
    interval = POLL_FIRST
    load_state = _with_database(_run_state)
    await subscription.watch(run_id)
    while True:
        state = await load_state(run_id)
        if state is not None and state["id"] not in (run_id, *subscription.watched_runs):
            # Following an automatic retry: watch it first, then read it again.
            await subscription.watch(state["id"])
            continue
        if state is None:
            return _error(502, f"Run {run_id} no longer exists.", run=run_id)
        if state["status"] in (Run.Status.SUCCEEDED, Run.Status.PARTIAL_SUCCESS):
            return _reply(response, state["final_payload"] or "", state["id"])
        if state["status"] in Run.TERMINAL:
            return _error(
                502,
                f"Run {state['id']} ended {state['status']}: {state['error'] or 'no error message'}",
                run=state["id"],
                status=state["status"],
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _error(
                504,
                f"Run {state['id']} did not finish within {response.timeout:g} seconds; "
                f"it is still {state['status']}.",
                run=state["id"],
                status=state["status"],
            )
        await wait_for_run_change(state["id"], min(interval, remaining), subscription)
        # With status events, polling is only the safety net.
        interval = min(interval * 2, POLL_MAX_WITH_EVENTS if subscription.active else POLL_MAX)


@csrf_exempt
async def webhook(request: HttpRequest, key: str) -> HttpResponse:
    if request.method not in ("GET", "POST", "PUT", "PATCH"):
        return _error(405, f"Method {request.method} is not allowed; use GET or POST.")
    target = await _with_database(_load_target)(key)
    if target is None:
        return _error(404, "No flow has this webhook key.")
    if not target.enabled:
        return _error(409, f"Flow '{target.flow_name}' is disabled; enable it to accept webhook calls.")
    if not target.has_deployed_version:
        return _error(409, f"Flow '{target.flow_name}' has no deployed version; deploy it first.")
    if target.trigger_kind != "webhook":
        return _error(
            409,
            f"The deployed version of flow '{target.flow_name}' is triggered by "
            f"'{target.trigger_kind or 'nothing'}', not by a webhook.",
        )
    try:
        payload = request_payload(request)
    except RequestDataTooBig:
        return _error(413, "Request body too large.")
    if problem := webhook_body_problem(request.body, request.content_type):  # config/json_input.py
        return _error(400, problem.detail, errors=[{"field": problem.field, "message": problem.message}])
    try:
        run_id = await _with_database(_enqueue)(target.flow, payload, request_meta(request))
    except WebhookRateLimited as limited:
        response = _error(429, str(limited))
        response["Retry-After"] = str(limited.retry_after)
        return response
    except RunRefused as refusal:
        return _error(409, str(refusal))
    if target.response.mode != "final_payload":
        return _reply(target.response, target.response.body, run_id)
    try:
        return await _await_final_payload(run_id, target.response)
    except asyncio.CancelledError:
        # The caller went away; the run carries on regardless.
        logger.info("Webhook caller of run %s disconnected before the run finished", run_id)
        raise
