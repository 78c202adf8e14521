"""/healthz (database, channel layer, broker, executor, script sandbox) and /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


async def _channel_round_trip(layer: Any, timeout: float = 3.0) -> None:
    """Send a message to a fresh channel and receive it. The receive starts first and the send repeats:
    the Redis pub/sub layer subscribes on the first receive and drops what was published before that."""
    loop = asyncio.get_running_loop()
    channel = await layer.new_channel("healthz.")
    receiving = asyncio.ensure_future(layer.receive(channel))
    deadline = loop.time() + timeout
    try:
        while True:
            await layer.send(channel, {"type": "healthz"})
            done, _ = await asyncio.wait({receiving}, timeout=0.1)
            if done:
                if receiving.result().get("type") != "healthz":
                    raise RuntimeError("the channel layer returned another message")
                return
            if loop.time() > deadline:
                raise TimeoutError(f"no message came back through the channel layer within {timeout:.0f} s")
    finally:
        receiving.cancel()


def _check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    async_to_sync(_channel_round_trip)(layer)
    return "ok"


def _check_broker() -> str:
    if settings.PATCHBAY_EXECUTOR != "celery":
        return "not used (embedded executor)"
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_executor() -> str:
    if settings.PATCHBAY_EXECUTOR == "celery":
        from config.celery import app

        replies = app.control.ping(timeout=1.0)
        if not replies:
            raise RuntimeError("no Celery worker answered a ping")
        return f"{len(replies)} celery worker(s)"
    from runs.executors.embedded import get_embedded_executor

    if not get_embedded_executor().running:
        raise RuntimeError("the embedded executor is not running in this process")
    return "ok"


def _check_sandbox() -> dict[str, Any]:
    """The script sandbox of this process: its zygote runs, and which layers of the OS jail are active (a
    missing layer is a warning in the detail, not a failure: the server runs with the others)."""
    from scripts_app.sandbox.pool import sandbox_status

    status = sandbox_status()
    layers = status["layers"]
    active = [name for name, layer in layers.items() if layer["active"]]
    inactive = [name for name, layer in layers.items() if not layer["active"]]
    detail = f"process per call; jail layers active: {', '.join(active) or 'none'}"
    if inactive:
        detail += f"; not active: {', '.join(inactive)}"
    return {"detail": detail, "layers": layers}


CHECKS: dict[str, Callable[[], str | dict[str, Any]]] = {
    "database": _check_database,
    "channel_layer": _check_channel_layer,
    "broker": _check_broker,
    "executor": _check_executor,
    "sandbox": _check_sandbox,
}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, 503 naming the failing ones. No authentication (for load balancers)."""
    results: dict[str, Any] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            outcome = check()
            results[name] = {"ok": True, **(outcome if isinstance(outcome, dict) else {"detail": outcome})}
        except Exception as exc:
            healthy = False
            results[name] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return JsonResponse(
        {"status": "ok" if healthy else "failing", "checks": results}, status=200 if healthy else 503
    )


def metrics_allowed(request: HttpRequest) -> bool:
    """`Authorization: Bearer <PATCHBAY_METRICS_TOKEN>` (compared in constant time) or REMOTE_ADDR in
    PATCHBAY_METRICS_ALLOWED_IPS. Behind a proxy REMOTE_ADDR is the proxy: use the token there."""
    token = settings.PATCHBAY_METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    allowed = settings.PATCHBAY_METRICS_ALLOWED_IPS
    if allowed is None:
        allowed = [] if token else ["127.0.0.1", "::1"]
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for callers with the metrics token or from an allowed address (settings)."""
    if not metrics_allowed(request):
        return JsonResponse(
            {"detail": "A valid metrics token (or an allowed address) is required.", "errors": []}, status=401
        )
    from runs.metrics import REGISTRY

    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
]
