"""The webhook trigger: `GET|POST /hooks/{key}/` starts a run of the flow with that webhook key.

The view is async so that a caller waiting for the final payload holds no server thread while it waits: the
database work runs on threads, and the wait sleeps until the run's end wakes it (runs.triggers.waiters).
Under an ASGI server, config.asgi hands `/hooks/{key}/` to `asgi_webhook` before Django's middleware stack
(the fast path); Django's URL route serves the same view for everything else (the test client, WSGI).

Input: a non-empty POST/PUT/PATCH body is the payload; otherwise the query parameters become a JSON object
payload. The method, path, query string (credential-named parameters masked) and request headers (except
credentials, cookies and the signature) go into meta. A flow may require an HMAC signature of the body
(runs.triggers.signatures): 401 without it.
Reply (the trigger's `response` settings, docs/shapes.md): `immediate` answers at once, by default 200
`{"message": "Flow initialised.", "run": id}`; `final_payload` answers with the run's final payload once it
ends, following automatic run retries, or 504 when it has not ended within `timeout` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import tempfile
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus
from xml.sax.saxutils import escape

from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.exception import response_for_exception
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.views.decorators.csrf import csrf_exempt

from config.json_input import webhook_body_problem
from connectors.redaction import REDACTED, is_credential_name
from designer.models import Flow, FlowVersion
from runs import chain
from runs.errors import RunRefused
from runs.lifecycle import deployed_version_for_webhook, enqueue_run
from runs.models import Run
from runs.triggers.flows import trigger_settings
from runs.triggers.rate_limit import WebhookRateLimited, limit_webhook_runs
from runs.triggers.signatures import SignatureCheck, is_caller_credential
from runs.triggers.waiters import RunEventSubscription, Waiting, wait_for_run_change

logger = logging.getLogger(__name__)

# DESIGN section 4: payload meta holds at most 10240 bytes in total.
META_LIMIT_BYTES = 10240
CONTENT_TYPES = {"json": "application/json", "xml": "application/xml", "text": "text/plain; charset=utf-8"}
DEFAULT_MESSAGE = "Flow initialised."
# A waiter is woken by the run's end (runs.triggers.waiters); it reads the run on its own only after this
# long without a wake-up, in case one was lost (a channel-layer message dropped).
SAFETY_RECHECK_SECONDS = 5.0


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


# Webhook calls of one process use at most this many database connections at a time, so a burst of callers
# (or many callers waiting for a final payload) queues here instead of exhausting PostgreSQL's
# max_connections ("too many clients").
DATABASE_TURNS = 20
# The fast path (`asgi_webhook`) runs its database work on this many threads of its own, each keeping its
# connection open between calls (SQLite: no reconnect and WAL pragma per call; PostgreSQL: a pooled
# connection per thread, returned only when it breaks).
DATABASE_THREADS = 4
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
_database_threads: ThreadPoolExecutor | None = None
_database_threads_lock = threading.Lock()

Database = Callable[..., Awaitable[Any]]


def _database_turns() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    turns = _turns.get(loop)
    if turns is None:
        turns = _turns[loop] = asyncio.Semaphore(DATABASE_TURNS)
    return turns


async def in_request_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run `function` where Django runs the sync code of this request: a thread of the request's own
    (asgiref's per-request thread-sensitive context), one of DATABASE_TURNS at a time, closing the
    thread's connection afterwards (outside a transaction, that is: never a test's), since the thread ends
    with the request.
    """

    def closing() -> Any:
        try:
            return function(*args)
        finally:
            if not connection.in_atomic_block:
                connection.close()

    async with _database_turns():
        return await sync_to_async(closing, thread_sensitive=True)()


def _database_executor() -> ThreadPoolExecutor:
    global _database_threads
    with _database_threads_lock:
        if _database_threads is None:
            _database_threads = ThreadPoolExecutor(
                max_workers=DATABASE_THREADS, thread_name_prefix="patchbay-webhook-db"
            )
        return _database_threads


async def on_database_threads(function: Callable[..., Any], *args: Any) -> Any:
    """Run `function` on one of the fast path's database threads, whose connections stay open; a
    connection that failed is closed so that the thread's next call opens a fresh one."""

    def keeping() -> Any:
        try:
            return function(*args)
        except (OperationalError, InterfaceError):
            connection.close()
            raise

    return await asyncio.get_running_loop().run_in_executor(_database_executor(), keeping)


@dataclass(frozen=True)
class _Target:
    flow: Flow
    flow_name: str
    enabled: bool
    has_deployed_version: bool
    trigger_kind: str
    response: ResponseSettings
    flow_version: FlowVersion | None = None
    signature: SignatureCheck | None = None


def _load_target(key: str) -> _Target | None:
    """The flow with webhook key `key` and its deployed version, in one query when it has one."""
    version = deployed_version_for_webhook(key)
    flow = version.flow if version is not None else Flow.objects.filter(webhook_key=key).first()
    if flow is None:
        return None
    settings = trigger_settings(version.graph if version is not None else None)
    return _Target(
        flow=flow,
        flow_name=flow.name,
        enabled=flow.enabled,
        has_deployed_version=version is not None,
        trigger_kind=str(settings.get("kind", "")),
        response=ResponseSettings.from_trigger(settings),
        flow_version=version,
        signature=SignatureCheck.of(flow),
    )


def _enqueue(
    flow: Flow, payload: str | None, meta: dict[str, str], flow_version: FlowVersion | None = None
) -> int:
    # A call made by a Patchbay run of this installation carries its trigger chain (runs/chain.py).
    trigger_chain = chain.chain_from_token(meta.pop(chain.META_KEY, None))
    limit_webhook_runs(flow)
    return enqueue_run(
        flow=flow,
        trigger=Run.Trigger.WEBHOOK,
        payload=payload,
        meta=meta,
        trigger_chain=trigger_chain,
        flow_version=flow_version,
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


def masked_query(query: str) -> str:
    """The query string as sent, with the values of credential-named parameters (`api_key`, `token`, `sig`,
    ... by connectors.redaction.is_credential_name) replaced by `***`: meta is stored and shown with the run,
    and a caller that authenticates through the query string must not leave its key there."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        raw_name, equals, _value = part.partition("=")
        if equals and is_credential_name(unquote_plus(raw_name)):
            part = f"{raw_name}={REDACTED}"
        parts.append(part)
    return "&".join(parts)


def request_meta(request: HttpRequest, *, signature_header: str = "") -> dict[str, str]:
    """Method, path, query string and headers as `http_*` / `header_*` meta keys, within META_LIMIT_BYTES.
    The caller's credentials (runs.triggers.signatures.is_caller_credential) are left out."""
    meta = {
        "http_method": request.method or "",
        "http_path": request.path,
        "http_query": masked_query(request.META.get("QUERY_STRING", "")),
    }
    size = sum(len(key) + len(value) for key, value in meta.items())
    for name, value in request.headers.items():
        lowered = name.lower()
        if is_caller_credential(lowered, signature_header):
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


async def _await_final_payload(run_id: int, response: ResponseSettings, database: Database) -> HttpResponse:
    subscription = RunEventSubscription()
    waiting = Waiting(run_id)
    try:
        return await _await_with(subscription, waiting, run_id, response, database)
    finally:
        waiting.close()
        await subscription.close()


def _answer(state: dict[str, Any], response: ResponseSettings) -> HttpResponse | None:
    """The reply for a run in `state`, or None while it has not ended."""
    if state["status"] in (Run.Status.SUCCEEDED, Run.Status.PARTIAL_SUCCESS):
        return _reply(response, state["final_payload"] or "", state["id"])
    if state["status"] in Run.TERMINAL:
        return _error(
            502,
            f"Run {state['id']} ended {state['status']}: {state['error'] or 'no error message'}",
            run=state["id"],
            status=state["status"],
        )
    return None


async def _await_with(
    subscription: RunEventSubscription,
    waiting: Waiting,
    run_id: int,
    response: ResponseSettings,
    database: Database,
) -> HttpResponse:
    """Wait for the run's end: woken by it (in-process, with the final state in hand) or by its `run.status`
    event (another process; then one read), never by polling; the run is read again only after a quiet
    SAFETY_RECHECK_SECONDS, in case a wake-up was lost."""
    deadline = time.monotonic() + response.timeout
    await subscription.watch(run_id)
    # Registered (and subscribed) before this first read, so an end committed meanwhile still wakes us.
    state = await database(_run_state, run_id)
    while True:
        if state is not None and state["id"] not in (run_id, *subscription.watched_runs):
            # Following an automatic retry: watch it first, then read it again.
            await subscription.watch(state["id"])
            waiting.close()
            waiting = Waiting(state["id"])
            state = await database(_run_state, run_id)
            continue
        if state is None:
            return _error(502, f"Run {run_id} no longer exists.", run=run_id)
        answer = _answer(state, response)
        if answer is not None:
            return answer
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _error(
                504,
                f"Run {state['id']} did not finish within {response.timeout:g} seconds; "
                f"it is still {state['status']}.",
                run=state["id"],
                status=state["status"],
            )
        await wait_for_run_change(state["id"], min(SAFETY_RECHECK_SECONDS, remaining), subscription, waiting)
        handed = waiting.wake.state
        # A failed run may have queued its next attempt (response code 2): only the row says so.
        if handed is not None and handed["id"] == state["id"] and handed["status"] != Run.Status.FAILED:
            state = handed
        else:
            state = await database(_run_state, run_id)


@csrf_exempt
async def webhook(request: HttpRequest, key: str) -> HttpResponse:
    """`/hooks/{key}/` through Django's URL routing and middleware (the test client, a WSGI server)."""
    return await process_webhook(request, key, in_request_thread)


async def process_webhook(request: HttpRequest, key: str, database: Database) -> HttpResponse:
    """One webhook call; `database` runs the blocking database work (`in_request_thread` under Django's
    handler, `on_database_threads` on the fast path)."""
    if request.method not in ("GET", "POST", "PUT", "PATCH"):
        return _error(405, f"Method {request.method} is not allowed; use GET or POST.")
    target = await database(_load_target, key)
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
    if target.signature is not None:
        refused = target.signature.problem(request)
        if refused is not None:
            return _error(401, refused)
    if problem := webhook_body_problem(request.body, request.content_type):  # config/json_input.py
        return _error(400, problem.detail, errors=[{"field": problem.field, "message": problem.message}])
    meta = request_meta(request, signature_header=target.signature.header if target.signature else "")
    try:
        run_id = await database(_enqueue, target.flow, payload, meta, target.flow_version)
    except WebhookRateLimited as limited:
        response = _error(429, str(limited))
        response["Retry-After"] = str(limited.retry_after)
        return response
    except RunRefused as refusal:
        return _error(409, str(refusal))
    if target.response.mode != "final_payload":
        return _reply(target.response, target.response.body, run_id)
    try:
        return await _await_final_payload(run_id, target.response, database)
    except asyncio.CancelledError:
        # The caller went away; the run carries on regardless.
        logger.info("Webhook caller of run %s disconnected before the run finished", run_id)
        raise


# --- the fast path: `/hooks/{key}/` straight from the ASGI server ----------------------------------------
HOOK_PATH = re.compile(r"^/hooks/(?P<key>[^/]+)/$")
# Django's middleware that shapes this reply (security and framing headers); the others (sessions,
# authentication, messages, CSRF, static files) have nothing to do for a webhook call.
_SECURITY_HEADERS = SecurityMiddleware(lambda request: HttpResponse())
_FRAME_HEADERS = XFrameOptionsMiddleware(lambda request: HttpResponse())


def fast_path_key(scope: dict[str, Any]) -> str | None:
    """The webhook key when `scope` is an HTTP request for `/hooks/{key}/` (anything else goes to Django)."""
    if scope.get("type") != "http":
        return None
    match = HOOK_PATH.match(scope.get("path", ""))
    return match.group("key") if match else None


async def _read_body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
    """The request body in a spooled file (as Django's ASGI handler reads it); None if the caller left."""
    # Closed by the caller (asgi_webhook) once the reply is sent.
    body = tempfile.SpooledTemporaryFile(max_size=django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")  # noqa: SIM115
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        body.write(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body.seek(0)
    return body


async def _until_disconnect(receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_response(
    send: Callable[[Mapping[str, Any]], Awaitable[None]], response: HttpResponse
) -> None:
    content = response.content
    if not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(content))
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    headers.extend(
        (b"Set-Cookie", cookie.output(header="").strip().encode("ascii"))
        for cookie in response.cookies.values()
    )
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": content})


async def asgi_webhook(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[Mapping[str, Any]], Awaitable[None]],
    key: str,
) -> None:
    """Serve `/hooks/{key}/` without Django's URL routing and middleware stack: no thread hop to the
    synchronous middleware (WhiteNoise) per call, database work on threads that keep their connections.

    Same contract as the `webhook` view (DESIGN sections 6 and 7): the same `process_webhook`, the host
    checked against ALLOWED_HOSTS, the security and framing headers of the middleware, errors as Django's
    handler would answer them. A caller that disconnects cancels its wait (the run carries on).
    """
    body = await _read_body(receive)
    if body is None:
        return
    try:
        request = ASGIRequest(scope, body)
        try:
            request.get_host()  # DisallowedHost -> 400, as CommonMiddleware would answer
            work = asyncio.ensure_future(process_webhook(request, key, on_database_threads))
            gone = asyncio.ensure_future(_until_disconnect(receive))
            try:
                await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                gone.cancel()
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                return
            response = work.result()
        except Exception as exc:  # answered the way Django's handler answers it
            response = response_for_exception(request, exc)
        response = _FRAME_HEADERS.process_response(
            request, _SECURITY_HEADERS.process_response(request, response)
        )
        await _send_response(send, response)
    finally:
        body.close()
