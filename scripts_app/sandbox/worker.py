"""The main loop of a sandbox worker process: one JSON request in, one JSON response out, over a pipe.

Started by `scripts_app.sandbox.pool` as a fresh interpreter (never a fork of the server), with an empty
environment and one socket to the pool. It imports no Django.

Request: `{"code": str, "checksum": str, "data": dict, "timeout": float}`.
Response: `{"ok": true, "result": dict, "logs": [str], "cpu_ms": float, "duration_ms": float}` or
`{"ok": false, "error": {"type": str, "message": str, "line": int | null}, "logs": [...], ...}`.

Limits: the address space is capped once at start (the interpreter's own size + the memory limit, so the
memory limit is what the script's data may use); CPU time is capped per call with a soft RLIMIT_CPU whose
SIGXCPU is turned into an exception at the script's current line; print output and the encoded result have
byte caps. Wall time is enforced by the pool, which kills the worker.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import sys
import time
import traceback
import warnings
from collections import OrderedDict
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
    reset_shared_state,
    script_globals,
    valid_unicode,
)

MAX_ERROR_MESSAGE_CHARS = 2000
COMPILED_CACHE_SIZE = 256
ORPHAN_GRACE_SECONDS = 10


class CpuLimitExceeded(SandboxLimitExceeded):
    error_type = "CpuLimitExceeded"


class _Worker:
    def __init__(self, limits: dict[str, int]) -> None:
        self.cpu_seconds = int(limits["cpu_seconds"])
        self.memory_mb = int(limits["memory_mb"])
        self.max_result_bytes = int(limits["max_result_bytes"])
        self.max_log_bytes = int(limits["max_log_bytes"])
        self.compiled: OrderedDict[str, CodeType | ScriptCompileError] = OrderedDict()
        self.cpu_exceeded = False
        self.cpu_hard_limit = resource.getrlimit(resource.RLIMIT_CPU)[1]

    # --- process set-up ----------------------------------------------------------------------------------

    def harden(self) -> None:
        # The server's environment holds secrets (database URL, secret key); scripts have no use for it.
        os.environ.clear()
        # Ctrl-C in a terminal reaches the whole process group; the pool stops workers by closing the pipe.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGXCPU, self._on_cpu_limit)
        # Warnings raised by library code a script calls would go to the server's stderr.
        warnings.simplefilter("ignore")
        # Library code that prints (re.DEBUG) must not write into the server's output.
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        limit = _address_space_bytes() + self.memory_mb * 1024 * 1024
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def _on_cpu_limit(self, signum: int, frame: FrameType | None) -> None:
        self.cpu_exceeded = True
        raise CpuLimitExceeded(f"the script used more than {self.cpu_seconds} s of CPU time")

    def _arm_cpu_limit(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime) + self.cpu_seconds
        if self.cpu_hard_limit != resource.RLIM_INFINITY:
            soft = min(soft, self.cpu_hard_limit)
        self.cpu_exceeded = False
        resource.setrlimit(resource.RLIMIT_CPU, (soft, self.cpu_hard_limit))

    def _disarm_cpu_limit(self) -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_hard_limit, self.cpu_hard_limit))

    # --- one call ------------------------------------------------------------------------------------------

    def _compile(self, code: str, checksum: str) -> CodeType:
        cached = self.compiled.get(checksum)
        if cached is None:
            try:
                cached = compile_script(code)
            except ScriptCompileError as exc:
                cached = exc
            self.compiled[checksum] = cached
            if len(self.compiled) > COMPILED_CACHE_SIZE:
                self.compiled.popitem(last=False)
        else:
            self.compiled.move_to_end(checksum)
        if isinstance(cached, ScriptCompileError):
            raise cached
        return cached

    def handle(self, raw: bytes) -> bytes:
        started = time.perf_counter()
        cpu_started = time.process_time()
        collector = LogCollector(self.max_log_bytes)
        try:
            request = json.loads(raw)
            compiled = self._compile(request["code"], request["checksum"])
            result_json = self._run(compiled, request["data"], collector, float(request.get("timeout") or 0))
        except ScriptCompileError as exc:
            first = exc.problems[0]
            error = {"type": first.kind, "message": str(exc), "line": first.line}
            return self._response(False, collector, started, cpu_started, error=error)
        except SandboxLimitExceeded as exc:
            error = {"type": exc.error_type, "message": str(exc), "line": _script_line(exc)}
            return self._response(False, collector, started, cpu_started, error=error)
        except MemoryError as exc:
            message = f"the script needed more than {self.memory_mb} MiB of memory"
            error = {"type": "MemoryError", "message": message, "line": _script_line(exc)}
            return self._response(False, collector, started, cpu_started, error=error)
        except BaseException as exc:  # anything a script raises, BaseException("...") included
            error = {"type": type(exc).__name__, "message": _message(exc), "line": _script_line(exc)}
            return self._response(False, collector, started, cpu_started, error=error)
        return self._response(True, collector, started, cpu_started, result_json=result_json)

    def _run(self, compiled: CodeType, data: Any, collector: LogCollector, timeout: float) -> bytes:
        script = script_globals(collector)
        self._arm_cpu_limit()
        if timeout > 0:
            # The pool kills a worker at the timeout; should the pool's process be gone, SIGALRM (default
            # action: terminate) keeps an orphaned worker from running, or sleeping, forever.
            signal.alarm(math.ceil(timeout) + ORPHAN_GRACE_SECONDS)
        try:
            exec(compiled, script)  # noqa: S102 - restricted code object compiled under the policy
            result = script["handle"](data)
        finally:
            signal.alarm(0)
            self._disarm_cpu_limit()
            reset_shared_state()
        if collector.exceeded:
            raise LogLimitExceeded(f"log output exceeds the limit of {self.max_log_bytes} bytes")
        if self.cpu_exceeded:
            raise CpuLimitExceeded(f"the script used more than {self.cpu_seconds} s of CPU time")
        if not isinstance(result, dict):
            raise _InvalidResult(f"handle() must return a dict, it returned {type(result).__name__}")
        try:
            encoded = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError) as exc:
            raise _InvalidResult(f"the returned data cannot be encoded as JSON: {exc}") from None
        try:
            result_bytes = encoded.encode("utf-8")
        except UnicodeEncodeError:
            raise _InvalidResult(
                "the returned data holds text that is not valid Unicode (a lone surrogate)"
            ) from None
        if len(result_bytes) > self.max_result_bytes:
            raise _ResultTooLarge(
                f"the returned data is {len(result_bytes)} bytes, more than the limit of "
                f"{self.max_result_bytes} bytes"
            )
        return result_bytes

    def _response(
        self,
        ok: bool,
        collector: LogCollector,
        started: float,
        cpu_started: float,
        *,
        result_json: bytes = b"null",
        error: dict[str, Any] | None = None,
    ) -> bytes:
        head = {
            "ok": ok,
            "logs": collector.entries,
            "error": error,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "cpu_ms": round((time.process_time() - cpu_started) * 1000, 3),
        }
        # The result is already encoded (its size was checked on the bytes): splice it in, not re-encode.
        encoded_head = json.dumps(head).encode("ascii")
        return encoded_head[:-1] + b',"result":' + result_json + b"}"


class _InvalidResult(SandboxLimitExceeded):
    error_type = "InvalidResult"


class _ResultTooLarge(SandboxLimitExceeded):
    error_type = "ResultTooLarge"


def _address_space_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _script_line(exc: BaseException) -> int | None:
    """The line of the script's own code, innermost, where `exc` passed."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            line = lineno
    return line


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = f"<{type(exc).__name__} without a readable message>"
    if len(text) > MAX_ERROR_MESSAGE_CHARS:
        text = text[:MAX_ERROR_MESSAGE_CHARS] + "..."
    return valid_unicode(text)


def entry(argv: list[str]) -> None:
    """Process entry point: `argv` is [socket file descriptor, limits as JSON]."""
    main(Connection(int(argv[0])), json.loads(argv[1]))


def main(connection: Connection, limits: dict[str, int]) -> None:
    """Serve requests until the pool closes the pipe. Anything the worker cannot answer ends the process;
    the pool reports that call as failed and starts a replacement."""
    worker = _Worker(limits)
    worker.harden()
    try:
        connection.send_bytes(b"ready")
    except OSError:  # the pool closed before this worker finished starting
        return
    while True:
        try:
            raw = connection.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            response = worker.handle(raw)
        except MemoryError:
            response = json.dumps(
                {
                    "ok": False,
                    "logs": [],
                    "result": None,
                    "error": {"type": "MemoryError", "message": "out of memory", "line": None},
                }
            ).encode()
        try:
            connection.send_bytes(response)
        except (OSError, ValueError):
            return
