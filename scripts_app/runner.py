"""Running scripts: the one entry point for callers (`run_script`) and the draft runner the test button uses.

Models are imported inside functions: `scripts_app` exposes this module lazily and it may be imported before
the app registry is ready.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scripts_app.results import ScriptError, ScriptResult, build_result
from scripts_app.sandbox.policy import CompileProblem
from scripts_app.sandbox.pool import SandboxFailure, get_pool

if TYPE_CHECKING:
    from scripts_app.models import ScriptVersion

INVOCATION_NOTE_INTERVAL = 60.0  # seconds between two last_invoked_at writes for one version

# One encoder for every request (json.dumps with an option builds a new one, and its C encoder, per call).
_REQUEST_ENCODER = json.JSONEncoder(allow_nan=False)

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
    key: str | None = None,
) -> ScriptResult:
    """Run code (a version's or a draft's) in a sandbox process of its own. `checksum` keys the zygote's
    compiled-code cache; `key` is what fair scheduling shares slots by (the flow: `data["flow"]["id"]` when
    not given). Raises ScriptError."""
    from django.conf import settings

    if timeout is None:
        timeout = float(settings.PATCHBAY_SCRIPT_TIMEOUT)
    if key is None:
        flow = data.get("flow") if isinstance(data, dict) else None
        key = f"flow:{flow.get('id')}" if isinstance(flow, dict) and flow.get("id") is not None else "flow:-"

    def failure(error_type: str, message: str, **extra: Any) -> ScriptError:
        return ScriptError(
            script_name=script_name, version=version, error_type=error_type, message=message, **extra
        )

    try:
        # ASCII JSON: any string, lone surrogates included, reaches the script as the caller gave it.
        request = {"op": "run", "code": code, "checksum": checksum, "data": data, "timeout": timeout}
        encoded = _REQUEST_ENCODER.encode(request).encode("ascii")
    except (TypeError, ValueError, RecursionError) as exc:
        raise failure("InvalidInput", f"the data for the script cannot be encoded as JSON: {exc}") from None
    started = time.perf_counter()
    try:
        response = get_pool().call(encoded, timeout=timeout, key=key, checksum=checksum)
    except SandboxFailure as exc:
        duration_ms = (time.perf_counter() - started) * 1000
        raise failure(exc.error_type, exc.message, duration_ms=duration_ms) from None
    duration_ms = (time.perf_counter() - started) * 1000
    logs = response.get("logs") or []
    if not isinstance(logs, list) or not all(isinstance(line, str) for line in logs):
        raise failure("WorkerCrashed", "the script process sent logs that are not a list of text")
    if not response.get("ok"):
        raw_error = response.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        line = error.get("line")
        raise failure(
            str(error.get("type") or "ScriptError"),
            str(error.get("message") or "the script failed"),
            line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            logs=logs,
            duration_ms=duration_ms,
        )
    cpu_ms = response.get("cpu_ms")
    return build_result(
        response.get("result"),
        logs=logs,
        duration_ms=duration_ms,
        cpu_ms=float(cpu_ms) if isinstance(cpu_ms, int | float) else 0.0,
        script_name=script_name,
        version=version,
        max_log_bytes=int(settings.PATCHBAY_SCRIPT_MAX_LOG_BYTES),
    )


def check_code(code: str) -> list[CompileProblem]:
    """Every problem that stops `code` from compiling under the policy (empty when it compiles), found in a
    sandbox process under the script limits: a script that makes the compiler run out of memory or time is
    refused with a clear problem and the server never compiles it. Raises ScriptError when the sandbox
    cannot answer (a slot did not free up in time, the process was killed)."""
    from django.conf import settings

    timeout = float(settings.PATCHBAY_SCRIPT_TIMEOUT)
    request = {"op": "check", "code": code, "checksum": code_checksum(code), "timeout": timeout}
    try:
        response = get_pool().call(json.dumps(request).encode("ascii"), timeout=timeout, key="deploy")
    except SandboxFailure as exc:
        if exc.error_type in {"CpuLimitExceeded", "TimeoutError", "WorkerCrashed"}:
            message = f"The script cannot be compiled within the sandbox limits: {exc.message}"
            return [CompileProblem(1, 1, message)]
        raise ScriptError(
            script_name="(deploy check)", version=None, error_type=exc.error_type, message=exc.message
        ) from None
    raw_problems = response.get("problems")
    problems: list[Any] = raw_problems if isinstance(raw_problems, list) else []
    found = []
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        found.append(
            CompileProblem(
                line=_positive(problem.get("line")),
                column=_positive(problem.get("column")),
                message=str(problem.get("message") or "The script does not compile."),
                kind=str(problem.get("kind") or "CompileError"),
            )
        )
    if not response.get("ok") and not found:
        found.append(CompileProblem(1, 1, "The script does not compile."))
    return found


def _positive(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def code_checksum(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


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
