"""The zygote: a fresh, jailed, single-threaded interpreter that forks one process per script call.

Started by `scripts_app.sandbox.pool` as `python -I` (never a fork of the threaded server) with an empty
environment. At start it imports the sandbox (every allowed module included), enters the OS jail
(`jail.py`), and tells the pool which layers hold. It never runs script code and never touches a script
object: it only forks, enforces wall time, reaps, and keeps the compiler's output of scripts it has seen.

Control socket (SOCK_SEQPACKET, from the pool): one message per call, `{"timeout": float, "checksum":
str}` with one file descriptor attached, the zygote's end of a socket pair whose other end the pool keeps.
The zygote forks; the call's process owns that socket: it reads the request and writes the answer there
(`call.py`). When the process has ended, the zygote writes one more frame on it, `X` + `{"status": int,
"reason": str}` (a caller that got no answer learns why), and closes it.

Compiled code: a call whose script is not in the zygote's cache gets a pipe; its process writes the
marshalled code object there right after compiling and before running anything of the script, and closes
it. The zygote loads that (the compiler's own output) and hands it, by forking, to later calls of the same
code, so they skip compiling.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import marshal
import os
import resource
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
from scripts_app.sandbox.call import MAX_CACHED_CODE_BYTES, Limits, arm_limits, serve_one_call

EXIT_FRAME = b"X"
KILL_GRACE_SECONDS = 1.0  # past its timeout a call's own timer has fired; this long after, it is killed
COMPILED_CACHE_SIZE = 256
CALL_FD = 3
CACHE_FD = 4
FIRST_FREE_FD = 5
HIGH_FD = 1000


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
        self.cache_reads: dict[int, tuple[str, bytearray]] = {}  # pipe fd -> (checksum, bytes so far)
        self.selector = selectors.DefaultSelector()
        self.wakeup_read, self.wakeup_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.load_seccomp: Any = None
        self.report = jail.JailReport()
        self.config = config

    # --- start ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        _warm_up()
        self.address_space_base = _address_space_bytes()
        # The filter is built before the jail hides libseccomp; it is loaded by each call's process.
        load, seccomp_layer = None, jail.Layer(False, "turned off (PATCHBAY_SCRIPT_JAIL=off)")
        if self.config.get("jail") != "off":
            load, seccomp_layer = jail.build_seccomp_filter()
        self.report = jail.enter_jail(
            mode=self.config.get("jail", "auto"),
            uid=int(self.config.get("uid", jail.NOBODY)),
            hidden=list(self.config.get("hidden", [])),
        )
        if load is not None and not _seccomp_holds(load):
            load, seccomp_layer = (
                None,
                jail.Layer(False, "the seccomp filter loaded but did not refuse socket()"),
            )
        self.load_seccomp = load
        self.report.layers["seccomp"] = seccomp_layer
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wakeup_write)
        self.selector.register(self.control, selectors.EVENT_READ, "control")
        self.selector.register(self.wakeup_read, selectors.EVENT_READ, "wakeup")
        # What the zygote holds now is shared with every call's process: keep the collector off those pages.
        gc.collect()
        gc.freeze()
        ready = {"ready": True, "pid": os.getpid(), "layers": self.report.as_dict()}
        self.control.send(json.dumps(ready).encode())

    # --- the loop ------------------------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            wait = None
            if self.calls:
                wait = max(0.0, min(call.deadline for call in self.calls.values()) - time.monotonic())
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
        try:
            message, fds, _flags, _address = socket.recv_fds(self.control, 4096, 2)
        except InterruptedError:
            return True
        except OSError:
            return False
        if not message:  # the pool closed the control socket
            for fd in fds:
                os.close(fd)
            return False
        if not fds:
            return True
        call_socket = socket.socket(fileno=fds[0])
        for extra in fds[1:]:
            os.close(extra)
        try:
            header = json.loads(message)
            timeout = float(header.get("timeout") or 0)
            checksum = str(header.get("checksum") or "")
        except (ValueError, TypeError, AttributeError):
            call_socket.close()
            return True
        self._fork_call(call_socket, timeout, checksum)
        return True

    def _fork_call(self, call_socket: socket.socket, timeout: float, checksum: str) -> None:
        cache_read = cache_write = None
        wants_code = bool(checksum) and checksum not in self.compiled
        if wants_code and checksum not in {pending for pending, _ in self.cache_reads.values()}:
            cache_read, cache_write = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
        except OSError:
            call_socket.close()
            for fd in (cache_read, cache_write):
                if fd is not None:
                    os.close(fd)
            return
        if pid == 0:  # the call's process
            status = 70
            try:
                self._become_call(call_socket, timeout, cache_write)
                status = 0
            finally:
                os._exit(status)
        if cache_write is not None and cache_read is not None:
            os.close(cache_write)
            os.set_blocking(cache_read, False)
            self.cache_reads[cache_read] = (checksum, bytearray())
            self.selector.register(cache_read, selectors.EVENT_READ, "compiled")
        if self.compiled.get(checksum) is not None:
            self.compiled.move_to_end(checksum)
        deadline = time.monotonic() + timeout + KILL_GRACE_SECONDS if timeout > 0 else float("inf")
        self.calls[pid] = _Call(socket=call_socket, deadline=deadline, timeout=timeout)

    def _become_call(self, call_socket: socket.socket, timeout: float, cache_write: int | None) -> None:
        """In the forked process: keep only this call's descriptors, harden, arm the limits, serve."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Out of the way first (a descriptor may already sit at 3 or 4), then to their fixed numbers.
        call_high = fcntl.fcntl(call_socket.fileno(), fcntl.F_DUPFD, HIGH_FD)
        os.dup2(call_high, CALL_FD)
        if cache_write is not None:
            cache_high = fcntl.fcntl(cache_write, fcntl.F_DUPFD, HIGH_FD)
            os.dup2(cache_high, CACHE_FD)
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        os.dup2(self.devnull, 2)  # nothing a call does reaches the zygote's (the pool's) stderr
        os.closerange(CACHE_FD if cache_write is None else FIRST_FREE_FD, 1 << 20)
        jail.harden_call_process()
        breaches = arm_limits(self.limits, timeout=timeout, address_space_base=self.address_space_base)
        if self.load_seccomp is not None:
            self.load_seccomp()
        serve_one_call(
            Connection(CALL_FD),
            limits=self.limits,
            breaches=breaches,
            cache=self.compiled,
            cache_pipe=CACHE_FD if cache_write is not None else None,
        )

    # --- compiled code -------------------------------------------------------------------------------------

    def _read_compiled(self, fd: int) -> None:
        checksum, buffer = self.cache_reads[fd]
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
        if chunk or not buffer:
            return  # too large, or the process wrote nothing (the code did not compile)
        try:
            # The compiler's output, written by the call's process before any script code ran there.
            code = marshal.loads(bytes(buffer))  # noqa: S302
        except (ValueError, EOFError, TypeError):
            return
        if isinstance(code, CodeType):
            self.compiled[checksum] = code
            while len(self.compiled) > COMPILED_CACHE_SIZE:
                self.compiled.popitem(last=False)

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


def _seccomp_holds(load: Any) -> bool:
    """Fork a process that loads the filter and tries to open a socket: the filter is only reported active
    when the kernel refused it."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            load()
            try:
                socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
            except PermissionError:
                code = 0
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
