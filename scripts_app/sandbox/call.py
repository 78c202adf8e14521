"""One script call, inside a process that exists for that call only (a fork of the zygote, `zygote.py`).

The request arrives after every limit is armed and the answer leaves only once it is plain JSON bytes, so
everything the script's objects can do (run `items()` of a dict subclass, a `__str__` set through the enum
functional API, a generator's `finally`) happens in this process, under the limits, and dies with it: the
process ends with `os._exit` once it has answered, without running finalizers or the garbage collector.

Request (one frame): `{"op": "run" | "check", "code": str, "checksum": str, "data": dict}`.
Answer (one frame, first byte `R`): `{"ok": true, "result": dict, "logs": [str], "cpu_ms", "duration_ms"}`,
`{"ok": false, "error": {"type", "message", "line"}, "logs": [...], ...}` or, for `check`,
`{"ok": bool, "problems": [{"line", "column", "message", "kind"}]}`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import marshal
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import CodeType, FrameType
from typing import Any

from scripts_app.sandbox.policy import (
    SCRIPT_FILENAME,
    LogCollector,
    LogLimitExceeded,
    SandboxLimitExceeded,
    ScriptCompileError,
    compile_script,
    script_globals,
    valid_unicode,
)

RESPONSE_FRAME = b"R"
MAX_ERROR_MESSAGE_CHARS = 2000
MAX_CACHED_CODE_BYTES = 4 * 1024 * 1024  # compiled code larger than this is not kept by the zygote
# The request may carry data as large as the result limit, plus the code and the JSON around them.
REQUEST_OVERHEAD_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 60
    memory_mb: int = 256
    max_result_bytes: int = 64 * 1024 * 1024
    max_log_bytes: int = 1024 * 1024
    max_result_items: int = 1_000_000
    max_result_depth: int = 100

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Limits:
        return cls(**{name: int(values[name]) for name in cls.__dataclass_fields__ if name in values})


class CpuLimitExceeded(SandboxLimitExceeded):
    error_type = "CpuLimitExceeded"


class WallTimeExceeded(SandboxLimitExceeded):
    error_type = "TimeoutError"


class InvalidResult(SandboxLimitExceeded):
    error_type = "InvalidResult"


class ResultTooLarge(SandboxLimitExceeded):
    error_type = "ResultTooLarge"


class _Breaches:
    """Limits a script broke. A script that catches the limit's exception does not get away with it: the
    call fails all the same once `handle` returns."""

    def __init__(self) -> None:
        self.cpu: CpuLimitExceeded | None = None
        self.wall: WallTimeExceeded | None = None


def arm_limits(limits: Limits, *, address_space_base: int) -> _Breaches:
    """CPU (soft limit -> an error at the script's line, hard limit one second later -> SIGKILL), memory
    (the zygote's own size + the memory limit), no file writes, no core dumps. Armed right after the fork,
    before the request is read; they hold until the process ends."""
    breaches = _Breaches()

    def on_cpu_limit(signum: int, frame: FrameType | None) -> None:
        breaches.cpu = CpuLimitExceeded(f"the script used more than {limits.cpu_seconds} s of CPU time")
        raise breaches.cpu

    signal.signal(signal.SIGXCPU, on_cpu_limit)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    memory = address_space_base + limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return breaches


def arm_wall_timer(timeout: float, breaches: _Breaches) -> None:
    """The call's wall time, from the moment its request arrived: an error at the script's line (the zygote
    kills the process a second later if the script carries on)."""

    def on_wall_time(signum: int, frame: FrameType | None) -> None:
        breaches.wall = WallTimeExceeded(f"the script ran longer than {timeout:g} s and was stopped")
        raise breaches.wall

    signal.signal(signal.SIGALRM, on_wall_time)
    if timeout > 0:
        signal.setitimer(signal.ITIMER_REAL, timeout)


def disarm_signals() -> None:
    """Right before the answer is sent (it is plain bytes by then): no exception may cut a frame in half.
    The hard CPU limit and the memory limit stay."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)


# --- Results: plain data only ------------------------------------------------------------------------------


class _PlainConverter:
    """Copies what `handle` returned into exact dicts, lists, strings, numbers, booleans and None.

    Containers are read through the base types' own methods (`dict.items(value)`, not `value.items()`), so
    a subclass's overrides do not run; the element count, nesting depth and an estimate of the encoded size
    are bounded before anything large is built.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.items = 0
        self.size = 0

    def count(self, size: int) -> None:
        self.items += 1
        self.size += size
        if self.items > self.limits.max_result_items:
            raise ResultTooLarge(
                f"the returned data holds more than {self.limits.max_result_items} values (the limit)"
            )
        if self.size > self.limits.max_result_bytes:
            raise ResultTooLarge(
                f"the returned data is more than the limit of {self.limits.max_result_bytes} bytes"
            )

    def key(self, key: Any) -> str:
        if isinstance(key, str):
            return str.__str__(key)
        if key is None:
            return "null"
        if key is True or key is False:
            return "true" if key else "false"
        if isinstance(key, int):
            return int.__repr__(int.__index__(key))
        if isinstance(key, float):
            return float.__repr__(float.__float__(key))
        raise InvalidResult(
            f"the returned data has a dict key of type {type(key).__name__}; keys must be text"
        )

    def convert(self, value: Any, depth: int = 0) -> Any:
        if depth > self.limits.max_result_depth:
            raise InvalidResult(
                f"the returned data is nested more than {self.limits.max_result_depth} levels"
            )
        kind = type(value)
        if kind is str:
            self.count(len(value) + 3)
            return value
        if value is None or kind is bool:
            self.count(5)
            return value
        if kind is int or kind is float:
            self.count(24)
            return value
        if isinstance(value, dict):
            self.count(2)
            return {self.key(key): self.convert(item, depth + 1) for key, item in dict.items(value)}
        if isinstance(value, list):
            self.count(2)
            return [self.convert(item, depth + 1) for item in list.__iter__(value)]
        if isinstance(value, tuple):
            self.count(2)
            return [self.convert(item, depth + 1) for item in tuple.__iter__(value)]
        if isinstance(value, str):
            return self.convert(str.__str__(value), depth)
        if isinstance(value, int):
            return self.convert(int.__index__(value), depth)
        if isinstance(value, float):
            return self.convert(float.__float__(value), depth)
        raise InvalidResult(
            "the returned data cannot be encoded as JSON: "
            f"Object of type {kind.__name__} is not JSON serializable"
        )


# One encoder for every result (json.dumps with options builds a new one, and its C encoder, per call).
_RESULT_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _log_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass")) + 1


def encode_result(result: Any, collector: LogCollector, limits: Limits) -> bytes:
    """The returned dict as UTF-8 JSON, within the result limits; its `logs` and `message` count against
    the log limit together with the print output."""
    if not isinstance(result, dict):
        raise InvalidResult(f"handle() must return a dict, it returned {type(result).__name__}")
    plain = _PlainConverter(limits).convert(result)
    used = collector.size
    returned_logs = plain.get("logs")
    if isinstance(returned_logs, list):
        used += sum(_log_bytes(line) for line in returned_logs if isinstance(line, str))
    message = plain.get("message")
    if isinstance(message, str):
        used += _log_bytes(message)
    if used > limits.max_log_bytes:
        raise LogLimitExceeded(
            f"log output exceeds the limit of {limits.max_log_bytes} bytes (print output, returned 'logs' "
            f"and 'message' together: {used} bytes)"
        )
    try:
        encoded = _RESULT_ENCODER.encode(plain)
    except ValueError as exc:
        raise InvalidResult(f"the returned data cannot be encoded as JSON: {exc}") from None
    try:
        result_bytes = encoded.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidResult(
            "the returned data holds text that is not valid Unicode (a lone surrogate)"
        ) from None
    if len(result_bytes) > limits.max_result_bytes:
        raise ResultTooLarge(
            f"the returned data is {len(result_bytes)} bytes, "
            f"more than the limit of {limits.max_result_bytes} bytes"
        )
    return result_bytes


# --- Errors ------------------------------------------------------------------------------------------------


def _script_line(exc: BaseException) -> int | None:
    """The line of the script's own code, innermost, where `exc` passed."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            line = lineno
    return line


def _describe(exc: BaseException, limits: Limits) -> dict[str, Any]:
    if isinstance(exc, ScriptCompileError):
        first = exc.problems[0]
        return {"type": first.kind, "message": str(exc)[:MAX_ERROR_MESSAGE_CHARS], "line": first.line}
    if isinstance(exc, MemoryError):
        message = f"the script needed more than {limits.memory_mb} MiB of memory"
        return {"type": "MemoryError", "message": message, "line": _script_line(exc)}
    if isinstance(exc, SandboxLimitExceeded):
        return {"type": exc.error_type, "message": str(exc), "line": _script_line(exc)}
    # str() of a script's exception may run script code (an enum's __str__): it runs here, under the limits.
    text = str(exc)
    if not isinstance(text, str):
        text = "<an error message that is not text>"
    text = str.__str__(text)
    if len(text) > MAX_ERROR_MESSAGE_CHARS:
        text = text[:MAX_ERROR_MESSAGE_CHARS] + "..."
    return {"type": type(exc).__name__, "message": valid_unicode(text), "line": _script_line(exc)}


def describe_error(exc: BaseException, limits: Limits, breaches: _Breaches) -> dict[str, Any]:
    """The error of a failed call. Describing it may itself break a limit (or raise): then that is the
    error; after three tries a fixed message."""
    for _ in range(3):
        try:
            if breaches.cpu is not None and not isinstance(exc, SandboxLimitExceeded | MemoryError):
                exc = breaches.cpu
            elif breaches.wall is not None and not isinstance(exc, SandboxLimitExceeded | MemoryError):
                exc = breaches.wall
            return _describe(exc, limits)
        except BaseException as again:
            exc = again
    return {
        "type": "ScriptError",
        "message": "the script failed and its error could not be read",
        "line": None,
    }


def _trim_logs(entries: list[str], budget: int) -> list[str]:
    kept: list[str] = []
    used = 0
    for entry in entries:
        used += _log_bytes(entry)
        if used > budget:
            break
        kept.append(entry)
    return kept


# --- The jail's self-check ----------------------------------------------------------------------------------


def probe(paths: list[str]) -> dict[str, Any]:
    """What this process can do, for the jail's tests and /healthz: its ids, which of `paths` it can open,
    whether it can open a socket or start a process. Fixed code; no script runs in a probe."""
    import socket

    def attempt(action: Callable[[], object]) -> str:
        try:
            action()
        except OSError as exc:
            return f"refused: {exc}"
        return "allowed"

    def fork_and_wait() -> None:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)

    def open_and_close(path: str) -> None:
        os.close(os.open(path, os.O_RDONLY))

    opened = {str(path): attempt(functools.partial(open_and_close, str(path))) for path in paths}
    return {
        "ok": True,
        "pid": os.getpid(),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "paths": opened,
        "socket": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()),
        "unix_socket": attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()),
        "fork": attempt(fork_and_wait),
    }


# --- The call ----------------------------------------------------------------------------------------------


def _compile(
    request: dict[str, Any], cache: dict[str, CodeType], send_compiled: Callable[[CodeType | None], None]
) -> CodeType:
    """The request's code object: the zygote's, or compiled here (and offered to the zygote). Either way
    the pipe to the zygote is closed before this returns, so nothing that runs later can write to it."""
    checksum = request.get("checksum")
    cached = cache.get(checksum) if isinstance(checksum, str) else None
    if cached is not None:
        send_compiled(None)
        return cached
    try:
        compiled = compile_script(request["code"])
    except BaseException:
        send_compiled(None)
        raise
    send_compiled(compiled)
    return compiled


def handle_request(
    request: Any,
    *,
    limits: Limits,
    breaches: _Breaches,
    cache: dict[str, CodeType],
    send_compiled: Callable[[CodeType | None], None],
) -> bytes:
    """The answer (without its frame byte) to one request. Never raises (short of the process being
    killed by the hard limits)."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    collector = LogCollector(limits.max_log_bytes)
    op = "run"
    code_cached = False
    try:
        op = request.get("op", "run")
        if op == "probe":
            send_compiled(None)
            return json.dumps(probe(request.get("paths") or [])).encode()
        if op == "check":
            try:
                _compile(request, {}, send_compiled)
            except ScriptCompileError as exc:
                problems = [{**p.as_dict(), "kind": p.kind} for p in exc.problems]
                return json.dumps({"ok": False, "problems": problems}).encode()
            return b'{"ok":true,"problems":[]}'
        code_cached = request.get("checksum") in cache
        compiled = _compile(request, cache, send_compiled)
        script = script_globals(collector)
        exec(compiled, script)  # noqa: S102 - restricted code object compiled under the policy
        result = script["handle"](request["data"])
        if breaches.cpu is not None:
            raise breaches.cpu
        if breaches.wall is not None:
            raise breaches.wall
        if collector.exceeded:
            raise LogLimitExceeded(f"log output exceeds the limit of {limits.max_log_bytes} bytes")
        result_json = encode_result(result, collector, limits)
        ok, error = True, None
    except BaseException as exc:
        if op == "check":
            # A compile bomb: the compiler ran out of memory or time under the limits.
            error = describe_error(exc, limits, breaches)
            problem = {"line": 1, "column": 1, "kind": "CompileError"}
            problem["message"] = (
                f"The script cannot be compiled within the sandbox limits: {error['message']}"
            )
            return json.dumps({"ok": False, "problems": [problem]}).encode()
        ok, error, result_json = False, describe_error(exc, limits, breaches), b"null"
    logs = collector.entries
    if error is not None:
        logs = _trim_logs(logs, limits.max_log_bytes - _log_bytes(error["message"]))
    head = {
        "ok": ok,
        "logs": logs,
        "error": error,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "cpu_ms": round((time.process_time() - cpu_started) * 1000, 3),
        "code_cached": code_cached,  # the zygote had the compiled code: this call did not compile
    }
    # The result is already encoded (its size was checked on the bytes): splice it in, not re-encode.
    encoded_head = json.dumps(head, ensure_ascii=True).encode("ascii")
    return encoded_head[:-1] + b',"result":' + result_json + b"}"


def serve_one_call(
    connection: Connection,
    *,
    limits: Limits,
    breaches: _Breaches,
    cache: dict[str, CodeType],
    cache_pipe: int | None,
) -> None:
    """Wait for the request, answer it, return (the caller ends the process with `os._exit`)."""

    def send_compiled(compiled: CodeType | None, checksum: str) -> None:
        nonlocal cache_pipe
        # Before the script's first instruction: what the zygote keeps is the compiler's output only.
        if cache_pipe is None:
            return
        pipe, cache_pipe = cache_pipe, None
        try:
            if compiled is None:
                return
            data = checksum.encode("ascii") + b"\n" + marshal.dumps(compiled)
            if len(checksum) == 64 and len(data) <= MAX_CACHED_CODE_BYTES:
                view = memoryview(data)
                while view:
                    view = view[os.write(pipe, view) :]
        except (OSError, UnicodeEncodeError, ValueError):
            pass
        finally:
            os.close(pipe)

    try:
        raw = connection.recv_bytes(limits.max_result_bytes + REQUEST_OVERHEAD_BYTES)
    except (EOFError, OSError):
        return  # the pool closed this spare without using it
    try:
        request = json.loads(raw)
        if not isinstance(request, dict):
            raise ValueError("the request is not an object")
        arm_wall_timer(float(request.get("timeout") or 0), breaches)
        answer = handle_request(
            request,
            limits=limits,
            breaches=breaches,
            cache=cache,
            send_compiled=lambda compiled: send_compiled(compiled, str(request.get("checksum") or "")),
        )
    except MemoryError:
        error = {"type": "MemoryError", "message": "out of memory", "line": None}
        answer = json.dumps({"ok": False, "logs": [], "result": None, "error": error}).encode()
    except (ValueError, TypeError) as exc:
        error = {"type": "WorkerError", "message": f"the request cannot be read: {exc}", "line": None}
        answer = json.dumps({"ok": False, "logs": [], "result": None, "error": error}).encode()
    if cache_pipe is not None:
        os.close(cache_pipe)
    disarm_signals()
    with contextlib.suppress(OSError, ValueError):  # the caller is gone: nobody to answer
        connection.send_bytes(RESPONSE_FRAME + answer)
