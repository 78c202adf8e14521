"""Running scripts: the one entry point for callers (`run_script`) and the draft runner the test button uses.

Models are imported inside functions: `scripts_app` exposes this module lazily and it may be imported before
the app registry is ready.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scripts_app.results import ScriptError, ScriptResult, build_result
from scripts_app.sandbox.pool import SandboxFailure, get_pool

if TYPE_CHECKING:
    from scripts_app.models import ScriptVersion

INVOCATION_NOTE_INTERVAL = 60.0  # seconds between two last_invoked_at writes for one version

_noted: dict[tuple[int, Any], float] = {}
_noted_lock = threading.Lock()


def run_script(version: ScriptVersion, data: dict[str, Any], *, timeout: float | None = None) -> ScriptResult:
    """Run `handle(data)` of a script version in the sandbox pool and validate what it returns.

    `timeout` (seconds) defaults to PATCHBAY_SCRIPT_TIMEOUT. Raises ScriptError for anything the script
    does wrong (raising, limits, an invalid result). Notes the call in `last_invoked_at` (one UPDATE per
    version per minute at most).
    """
    try:
        return run_code(
            code=version.code,
            checksum=version.checksum,
            data=data,
            script_name=version.script.name,
            version=version.number,
            timeout=timeout,
        )
    finally:
        _note_invocation(version)


def run_code(
    *,
    code: str,
    checksum: str,
    data: dict[str, Any],
    script_name: str,
    version: int | None,
    timeout: float | None = None,
) -> ScriptResult:
    """Run code (a version's or a draft's) in the sandbox pool. `checksum` keys the workers' compiled-code
    cache. Raises ScriptError."""
    from django.conf import settings

    if timeout is None:
        timeout = float(settings.PATCHBAY_SCRIPT_TIMEOUT)

    def failure(error_type: str, message: str, **extra: Any) -> ScriptError:
        return ScriptError(
            script_name=script_name, version=version, error_type=error_type, message=message, **extra
        )

    try:
        # ASCII JSON: any string, lone surrogates included, reaches the script as the caller gave it.
        request = {"code": code, "checksum": checksum, "data": data, "timeout": timeout}
        encoded = json.dumps(request, allow_nan=False).encode("ascii")
    except (TypeError, ValueError) as exc:
        raise failure("InvalidInput", f"the data for the script cannot be encoded as JSON: {exc}") from None
    started = time.perf_counter()
    try:
        raw = get_pool().call(encoded, timeout=timeout)
    except SandboxFailure as exc:
        duration_ms = (time.perf_counter() - started) * 1000
        raise failure(exc.error_type, exc.message, duration_ms=duration_ms) from None
    duration_ms = (time.perf_counter() - started) * 1000
    try:
        response = json.loads(raw)
    except ValueError:
        raise failure("WorkerError", "the script worker sent an answer that is not JSON") from None
    logs = response.get("logs") or []
    if not response["ok"]:
        error = response["error"]
        raise failure(
            error["type"], error["message"], line=error.get("line"), logs=logs, duration_ms=duration_ms
        )
    return build_result(
        response["result"],
        logs=logs,
        duration_ms=duration_ms,
        cpu_ms=float(response.get("cpu_ms") or 0.0),
        script_name=script_name,
        version=version,
    )


def _note_invocation(version: ScriptVersion) -> None:
    """Set last_invoked_at, at most once a minute per version and process: a dict lookup on the hot path,
    a conditional UPDATE otherwise (so several processes also write about once a minute)."""
    if version.pk is None:
        return
    from django.db.models import Q
    from django.utils import timezone

    from scripts_app.models import ScriptVersion

    key = (version.pk, version.deployed_at)
    now_monotonic = time.monotonic()
    with _noted_lock:
        last = _noted.get(key)
        if last is not None and now_monotonic - last < INVOCATION_NOTE_INTERVAL:
            return
        if len(_noted) > 10000:
            _noted.clear()
        _noted[key] = now_monotonic
    now = timezone.now()
    cutoff = now - timedelta(seconds=INVOCATION_NOTE_INTERVAL)
    if version.last_invoked_at is not None and version.last_invoked_at > cutoff:
        return
    ScriptVersion.objects.filter(pk=version.pk).filter(
        Q(last_invoked_at__isnull=True) | Q(last_invoked_at__lte=cutoff)
    ).update(last_invoked_at=now)
    version.last_invoked_at = now
