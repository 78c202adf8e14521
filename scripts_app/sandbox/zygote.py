"""The zygote: a fresh, jailed, single-threaded interpreter that forks one process per script call.

Started by `scripts_app.sandbox.pool` as `python -I` (never a fork of the threaded server) with an empty
environment. At start it imports the sandbox (every allowed module included), enters the OS jail
(`jail.py`), and tells the pool which layers hold. It never runs script code and never touches a script
object: it only forks, enforces wall time, reaps, and keeps the compiler's output of scripts it has seen.

Control socket (SOCK_SEQPACKET, from the pool): `{"spare": true}` with one to eight file descriptors
attached, each the zygote's end of a socket pair whose other end the pool keeps. The zygote forks a process
for one call onto each, back to back: hardened, the call path pre-faulted with a fixed built-in script,
limits armed, seccomp loaded, waiting for its request (`call.py`). Forking ahead keeps the fork off the
call's critical path; each such process still serves exactly one call. Once ready the process writes a
first frame on the socket, `P` + `{"pid": int}`, so that the pool can report `{"started": pid, "timeout": s}`
when it sends the request (a header with `"warm": false` asks for spares that skip the warm-up: the pool's
calls are outrunning its spares); from then the zygote kills the process one second past its timeout.
When the process has ended other than cleanly (exit status 0 means it answered, or its spare was closed
unused), the zygote writes a last frame, `X` + `{"status", "type", "reason"}` (a caller that got no answer
learns why); either way it closes its end of the socket.

Compiled code: every call's process gets a pipe; when it had to compile its script it writes the checksum
and the marshalled code object there right after compiling, before anything of the script runs, and closes
it either way. The zygote loads that (the compiler's own output) and hands it, by forking, to later calls of
the same code, so they skip compiling.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import marshal
import os
import resource
import select
import selectors
import signal
import socket
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import CodeType
from typing import Any

from scripts_app.sandbox import jail
from scripts_app.sandbox.call import (
    MAX_CACHED_CODE_BYTES,
    RESPONSE_FRAME,
    Limits,
    _Breaches,
    arm_limits,
    handle_request,
    serve_one_call,
)
from scripts_app.sandbox.policy import compile_script

EXIT_FRAME = b"X"
PID_FRAME = b"P"
KILL_GRACE_SECONDS = 1.0  # past its timeout a call's own timer has fired; this long after, it is killed
COMPILED_CACHE_SIZE = 256
# Marshalled bytes of all cached code together; the code objects take about this times CACHE_GROWTH.
COMPILED_CACHE_BYTES = 32 * 1024 * 1024
CACHE_GROWTH = 3
CALL_FD = 3
CACHE_FD = 4
FIRST_FREE_FD = 5
HIGH_FD = 1000
MAX_SPARES_PER_MESSAGE = 8  # the pool keeps at most eight spares, and asks for them in one message


@dataclass
class _Call:
    socket: socket.socket
    deadline: float
    timeout: float
    killed_for: str = ""


class Zygote:
    def __init__(self, control: socket.socket, config: dict[str, Any]) -> None:
        self.control = control
        self.limits = Limits.from_dict(config["limits"])
        self.calls: dict[int, _Call] = {}
        self.compiled: OrderedDict[str, CodeType] = OrderedDict()
        self.compiled_sizes: dict[str, int] = {}
        self.cache_reads: dict[int, bytearray] = {}  # pipe fd -> what its process wrote so far
        self.selector = selectors.DefaultSelector()
        self.wakeup_read, self.wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.load_seccomp: Any = None
        self.report = jail.JailReport()
        self.config = config
        self.warm_cache: dict[str, CodeType] = {}

    # --- start ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        _warm_up()
        self.address_space_base = _address_space_bytes()
        # The filters are built before the jail hides libseccomp. The zygote loads its own once its start-up
        # work is done; each call's process adds a short one right after the fork.
        filters, seccomp_layer = None, jail.Layer(False, "turned off (PATCHBAY_SCRIPT_JAIL=off)")
        if self.config.get("jail") != "off":
            filters, seccomp_layer = jail.build_seccomp_filter()
        self.report = jail.enter_jail(
            mode=self.config.get("jail", "auto"),
            uid=int(self.config.get("uid", jail.NOBODY)),
            hidden=list(self.config.get("hidden", [])),
        )
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wakeup_write)
        self.selector.register(self.control, selectors.EVENT_READ, "control")
        self.selector.register(self.wakeup_read, selectors.EVENT_READ, "wakeup")
        self.warm_cache = _warm_up_call_path(self.limits)
        if filters is not None:
            try:
                filters.load_zygote()
            except OSError as exc:
                reason = f"the seccomp filter cannot be loaded: {exc}"
                filters, seccomp_layer = None, jail.Layer(False, reason)
        if filters is not None and not _seccomp_holds(filters.load_call):
            filters, seccomp_layer = (
                None,
                jail.Layer(False, "the seccomp filters loaded but did not refuse socket() and fork()"),
            )
        self.load_seccomp = filters.load_call if filters is not None else None
        self.report.layers["seccomp"] = seccomp_layer
        # What the zygote holds now is shared with every call's process: keep the collector off those pages.
        gc.collect()
        gc.freeze()
        ready = {"ready": True, "pid": os.getpid(), "layers": self.report.as_dict()}
        self.control.send(json.dumps(ready).encode())

    # --- the loop ------------------------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            deadlines = [call.deadline for call in self.calls.values() if call.deadline != float("inf")]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for key, _ in self.selector.select(wait):
                if key.data == "control":
                    if not self._receive_call():
                        return
                elif key.data == "wakeup":
                    _drain(self.wakeup_read)
                else:
                    self._read_compiled(key.fd)
            self._reap()
            self._enforce_deadlines()

    def _receive_call(self) -> bool:
        """One control message: `{"spare": true}` with a socket (fork a process that waits on it for one
        call) or `{"started": pid, "timeout": seconds}` (that process got its request: its deadline)."""
        try:
            message, fds, _flags, _address = socket.recv_fds(self.control, 4096, MAX_SPARES_PER_MESSAGE)
        except InterruptedError:
            return True
        except OSError:
            return False
        if not message:  # the pool closed the control socket
            for fd in fds:
                os.close(fd)
            return False
        try:
            header = json.loads(message)
        except ValueError:
            header = {}
        if not isinstance(header, dict):
            header = {}
        if "started" in header:
            call = self.calls.get(int(header["started"]))
            timeout = float(header.get("timeout") or 0)
            if call is not None and timeout > 0:
                call.timeout = timeout
                call.deadline = time.monotonic() + timeout + KILL_GRACE_SECONDS
        if fds:
            self._fork_calls([socket.socket(fileno=fd) for fd in fds], warm=header.get("warm") is not False)
        return True

    def _fork_calls(self, call_sockets: list[socket.socket], *, warm: bool = True) -> None:
        """Fork a process for each socket, back to back: the bookkeeping comes after the last fork, so the
        pages it writes are copied once for the whole batch, not once per process."""
        forked: list[tuple[int, socket.socket, int]] = []
        for call_socket in call_sockets:
            cache_read, cache_write = os.pipe2(os.O_CLOEXEC)
            try:
                pid = os.fork()
            except OSError:
                call_socket.close()
                os.close(cache_read)
                os.close(cache_write)
                continue
            if pid == 0:  # the call's process
                # It lives for one call and ends with os._exit: collect rarely (each collection writes to
                # the pages it walks), but still collect, so a script making cyclic garbage in a loop is
                # not cut off by the memory limit sooner than before.
                gc.set_threshold(20_000, 20, 20)
                status = 70
                try:
                    self._become_call(call_socket, cache_write, warm=warm)
                    status = 0
                finally:
                    os._exit(status)
            os.close(cache_write)
            forked.append((pid, call_socket, cache_read))
        for pid, call_socket, cache_read in forked:
            os.set_blocking(cache_read, False)
            self.cache_reads[cache_read] = bytearray()
            self.selector.register(cache_read, selectors.EVENT_READ, "compiled")
            self.calls[pid] = _Call(socket=call_socket, deadline=float("inf"), timeout=0.0)

    def _become_call(self, call_socket: socket.socket, cache_write: int, *, warm: bool) -> None:
        """In the forked process: keep only this call's descriptors, harden, arm the limits, then wait for the
        one request this process will ever serve."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Out of the way first (a descriptor may already sit at 3 or 4), then to their fixed numbers.
        call_high = fcntl.fcntl(call_socket.fileno(), fcntl.F_DUPFD, HIGH_FD)
        cache_high = fcntl.fcntl(cache_write, fcntl.F_DUPFD, HIGH_FD)
        os.dup2(call_high, CALL_FD)
        os.dup2(cache_high, CACHE_FD)
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        os.dup2(self.devnull, 2)  # nothing a call does reaches the zygote's (the pool's) stderr
        os.closerange(FIRST_FREE_FD, 1 << 20)
        jail.harden_call_process()
        # A request that is already there (the pool was waiting for this process) would only wait for the
        # warm-up, and so would one the pool sends soon (`warm` false: calls outrun the spares): then the
        # call pays its own faults, which costs less in all.
        if warm and not select.select([CALL_FD], [], [], 0)[0]:
            _prefault_call_path(self.limits, self.warm_cache)
        # The cache has grown the zygote since it measured itself: the script's memory limit stays its own.
        grown = CACHE_GROWTH * sum(self.compiled_sizes.values())
        breaches = arm_limits(self.limits, address_space_base=self.address_space_base + grown)
        if self.load_seccomp is not None:
            self.load_seccomp()
        # Ready: the pool learns the process's pid (to tell the zygote when its call started) and that it
        # may send the request now; a spare whose frame is not there yet tells the pool calls outrun spares.
        with contextlib.suppress(OSError):
            os.write(CALL_FD, _frame(PID_FRAME + b'{"pid": %d}' % os.getpid()))
        serve_one_call(
            Connection(CALL_FD),
            limits=self.limits,
            breaches=breaches,
            cache=self.compiled,
            cache_pipe=CACHE_FD,
        )

    # --- compiled code -------------------------------------------------------------------------------------

    def _read_compiled(self, fd: int) -> None:
        """A call's process wrote `checksum \\n marshalled code` (or nothing) and closed its end."""
        buffer = self.cache_reads[fd]
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk and len(buffer) + len(chunk) <= MAX_CACHED_CODE_BYTES:
            buffer.extend(chunk)
            return
        self.selector.unregister(fd)
        os.close(fd)
        del self.cache_reads[fd]
        checksum, _, code_bytes = bytes(buffer).partition(b"\n")
        if chunk or not code_bytes or len(checksum) != 64:
            return  # too large, or nothing written (a cached script, or code that did not compile)
        key = checksum.decode("ascii", "replace")
        if key in self.compiled:
            return
        try:
            # The compiler's output, written by the call's process before any script code ran there.
            code = marshal.loads(code_bytes)  # noqa: S302
        except (ValueError, EOFError, TypeError):
            return
        if isinstance(code, CodeType):
            self.compiled[key] = code
            self.compiled_sizes[key] = len(code_bytes)
            while (
                len(self.compiled) > COMPILED_CACHE_SIZE
                or sum(self.compiled_sizes.values()) > COMPILED_CACHE_BYTES
            ):
                evicted, _ = self.compiled.popitem(last=False)
                self.compiled_sizes.pop(evicted, None)

    # --- ends of calls -------------------------------------------------------------------------------------

    def _reap(self) -> None:
        while self.calls:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            call = self.calls.pop(pid, None)
            if call is None:
                continue
            if status == 0 and not call.killed_for:
                # It answered (or its spare was closed unused): nobody needs to learn how it ended.
                call.socket.close()
                continue
            error_type, reason = _exit_reason(status, usage, call, self.limits)
            frame = {"status": status, "type": error_type, "reason": reason}
            try:
                call.socket.setblocking(False)
                call.socket.send(_frame(EXIT_FRAME + json.dumps(frame).encode()))
            except OSError:
                pass  # the pool already has its answer and closed its end, or its buffer is full
            call.socket.close()

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for pid, call in self.calls.items():
            if not call.killed_for and call.deadline <= now:
                call.killed_for = "timeout"
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _frame(payload: bytes) -> bytes:
    """A frame as multiprocessing.connection.Connection.recv_bytes reads it."""
    return len(payload).to_bytes(4, "big", signed=True) + payload


def _exit_reason(status: int, usage: Any, call: _Call, limits: Limits) -> tuple[str, str]:
    """The error type and message for a call's process that ended (the caller uses them when the process
    sent no answer)."""
    if call.killed_for == "timeout":
        return "TimeoutError", f"the script ran longer than {call.timeout:g} s and was stopped"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        cpu = usage.ru_utime + usage.ru_stime
        if number in (signal.SIGKILL, signal.SIGXCPU) and cpu >= limits.cpu_seconds:
            return "CpuLimitExceeded", f"the script used more than {limits.cpu_seconds} s of CPU time"
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == signal.SIGKILL:
            return (
                "WorkerCrashed",
                f"the script process was killed ({name}), for example for using too much memory",
            )
        return "WorkerCrashed", f"the script process ended unexpectedly ({name})"
    return (
        "WorkerCrashed",
        f"the script process ended without an answer (exit status {os.WEXITSTATUS(status)})",
    )


def _address_space_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def _warm_up() -> None:
    """Load what scripts use lazily, so that it comes from the zygote's memory and not the (jailed) disk:
    strptime's module and its locale tables, the codecs."""
    import datetime

    time.strptime("2000-01-02", "%Y-%m-%d")
    datetime.datetime.strptime("2000-01-02", "%Y-%m-%d")
    for codec in ("latin-1", "ascii", "utf-16", "utf-32", "cp1252", "idna"):
        "x".encode(codec)
    time.localtime()


WARM_UP_SCRIPT = (
    'def handle(data):\n    print("warm", len(data))\n    data["meta"]["seen"] = "yes"\n    return data\n'
)
WARM_UP_ROUNDS = 40


def _warm_up_request() -> bytes:
    data = {"payload": "{}", "variables": {}, "meta": {"source": "warm-up"}, "flow": {"id": 0}}
    request = {"op": "run", "code": WARM_UP_SCRIPT, "checksum": "warm", "data": data, "timeout": 1.0}
    return json.dumps(request).encode()


class _PipePair:
    """Two pipes standing in for a call's socket pair (the zygote's seccomp filter refuses socketpair):
    `sender` plays the pool's end, `receiver` the call process's end; both are multiprocessing
    Connections, read and written by the same code as a call's socket."""

    def __init__(self) -> None:
        request_read, request_write = os.pipe2(os.O_CLOEXEC)
        answer_read, answer_write = os.pipe2(os.O_CLOEXEC)
        self.request_out = Connection(request_write, readable=False)
        self.request_in = Connection(request_read, writable=False)
        self.answer_out = Connection(answer_write, readable=False)
        self.answer_in = Connection(answer_read, writable=False)

    def close(self) -> None:
        for connection in (self.request_out, self.request_in, self.answer_out, self.answer_in):
            connection.close()


def _run_warm_up_call(pipes: _PipePair, request: bytes, limits: Limits, cache: dict[str, CodeType]) -> None:
    """One call of the fixed built-in script, the way a real call goes: the request's frame and JSON, the
    (cached) code run in fresh globals, the result's encoding and frame."""
    pipes.request_out.send_bytes(request)
    received = json.loads(pipes.request_in.recv_bytes(1 << 20))
    answer = handle_request(
        received, limits=limits, breaches=_Breaches(), cache=cache, send_compiled=lambda code: None
    )
    pipes.answer_out.send_bytes(RESPONSE_FRAME + answer)
    json.loads(pipes.answer_in.recv_bytes(1 << 20)[1:])


def _warm_up_call_path(limits: Limits) -> dict[str, CodeType]:
    """Run the call's own path (frames, the request's JSON, compiling and running a fixed built-in
    script, encoding its result) in the zygote, before it freezes its heap; returns the fixed script's
    code, keyed as its request names it, for `_prefault_call_path`.

    CPython 3.11 specialises bytecode in place after a few executions and allocates lazily (key tables,
    free lists): done here once, that work is shared with every call's process instead of being redone
    (and copying the pages it writes) in each of them. Only this fixed script runs here, never a user's.
    """
    pipes = _PipePair()
    request = _warm_up_request()
    cache = {"warm": compile_script(WARM_UP_SCRIPT)}
    try:
        for _ in range(WARM_UP_ROUNDS):
            # Uncached (compiles) and cached (the zygote's code), as calls go.
            _run_warm_up_call(pipes, request, limits, {})
            _run_warm_up_call(pipes, request, limits, cache)
    finally:
        pipes.close()
    return cache


def _prefault_call_path(limits: Limits, cache: dict[str, CodeType]) -> None:
    """In a call's process, before its limits are armed and before it waits for its request: run the fixed
    built-in script's call once (cached code, as most calls are), so that the pages a call writes (reference
    counts of shared objects, the allocator's pools, the frame stack, the type cache) are copied from the
    zygote now, while the process waits, and not on the call's critical path. Nothing of a user's runs here,
    and nothing of it is left for the call but freed memory."""
    pipes = _PipePair()
    try:
        _run_warm_up_call(pipes, _warm_up_request(), limits, cache)
    finally:
        pipes.close()


def _seccomp_holds(load_call: Any) -> bool:
    """Fork a process that adds the call's filter to the zygote's and tries to open a socket and to fork:
    the layer is only reported active when the kernel refused both."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            load_call()
            try:
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
            except PermissionError:
                try:
                    grandchild = os.fork()
                except PermissionError:
                    code = 0
                else:
                    if grandchild == 0:
                        os._exit(1)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def entry(argv: list[str]) -> None:
    """Process entry point: `argv` is [control socket descriptor, configuration as JSON]."""
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    os.environ.clear()
    control = socket.socket(fileno=int(argv[0]))
    zygote = Zygote(control, json.loads(argv[1]))
    zygote.start()
    zygote.serve()
