"""A thread-safe pool of pre-started sandbox worker processes.

Each worker is a fresh interpreter (`python -I -c ...`, started by fork+exec: the spawn method) that imports
only the sandbox. It is never a fork of the server, so it inherits none of the server's threads, locks,
database connections, settings or memory; it gets an empty environment (no secrets) and one socket to talk
over. multiprocessing's own spawn / forkserver methods are not used because they re-run the parent's
`__main__` module in every child, which breaks (or re-executes) entry scripts without a main guard and
drags the server's modules into the worker.

A call checks out an idle worker (waiting when all are busy), sends one request and waits for the answer at
most `timeout` seconds. A worker that times out is killed and replaced; a worker that dies (killed by an
operator, the kernel's OOM killer, a crash) is replaced and only the call it was running fails, with a clear
error. A request that never reached a dead worker (the socket was already closed) is retried on another one,
so no caller loses a call because of someone else's script.

`get_pool()` gives the one pool of this process, created on first use from the PATCHBAY_SCRIPT_* settings
and shut down at exit.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path

logger = logging.getLogger(__name__)

# The directory that holds the `scripts_app` package: the only entry of the worker's import path besides
# the standard library and site-packages.
_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent.parent)
WORKER_START_TIMEOUT = 30.0  # seconds a new worker may take to start, not counted in any call's timeout
READY = b"ready"
MAX_FAILED_STARTS = 3  # workers in a row that die before saying they are ready, per call
_WORKER_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from scripts_app.sandbox.worker import entry; entry(sys.argv[2:])"
)


@dataclass(frozen=True)
class WorkerLimits:
    cpu_seconds: int = 60
    memory_mb: int = 256
    max_result_bytes: int = 64 * 1024 * 1024
    max_log_bytes: int = 1024 * 1024


class SandboxFailure(Exception):
    """A call did not produce an answer: the worker timed out or died, or the pool is closed."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


class _Worker:
    __slots__ = ("connection", "process", "ready")

    def __init__(self, process: subprocess.Popen[bytes], connection: Connection) -> None:
        self.process = process
        self.connection = connection
        self.ready = False  # set once the worker said it has started (imports done, limits set)

    def wait_until_ready(self) -> bool:
        if not self.ready:
            try:
                self.ready = (
                    self.connection.poll(WORKER_START_TIMEOUT) and self.connection.recv_bytes() == READY
                )
            except (EOFError, OSError):
                return False
        return self.ready

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_alive(self) -> bool:
        return self.process.poll() is None


class ScriptPool:
    """`size` worker processes. Thread-safe; each worker serves one call at a time."""

    def __init__(self, *, size: int, limits: WorkerLimits) -> None:
        if size < 1:
            raise ValueError("the script pool needs at least one worker")
        self.size = size
        self.limits = limits
        self._condition = threading.Condition()
        self._idle: list[_Worker] = []
        self._live = 0  # workers started and not discarded, idle or busy
        self._closed = False
        for _ in range(size):
            self._live += 1
            try:
                worker = self._start_worker()
            except BaseException:
                self._live -= 1
                self.close()
                raise
            self._idle.append(worker)

    @property
    def closed(self) -> bool:
        return self._closed

    def worker_pids(self) -> list[int]:
        """PIDs of the idle workers (all of them when no call is running)."""
        with self._condition:
            return [worker.pid for worker in self._idle]

    def stats(self) -> dict[str, int]:
        with self._condition:
            idle = len(self._idle)
            return {"configured": self.size, "idle": idle, "busy": max(self._live - idle, 0)}

    def call(self, request: bytes, *, timeout: float) -> bytes:
        """Send one request to a worker and return its response.

        Raises SandboxFailure ("TimeoutError", "WorkerCrashed", "PoolClosed"). Blocks while every worker
        is busy; the timeout counts from when a worker took the request.
        """
        undelivered = 0
        while True:
            worker = self._checkout()
            try:
                worker.connection.send_bytes(request)
            except OSError:
                # The worker died while idle and never saw this request: try another one.
                self._discard(worker)
                self._replace()
                undelivered += 1
                if undelivered > self.size + 1:
                    raise SandboxFailure(
                        "WorkerCrashed", "no script worker process could take the call"
                    ) from None
                continue
            break
        try:
            answered = worker.connection.poll(timeout)
            response = worker.connection.recv_bytes() if answered else b""
        except (EOFError, OSError):
            exitcode = self._discard(worker)
            self._replace()
            raise SandboxFailure("WorkerCrashed", _describe_exit(exitcode)) from None
        except BaseException:
            # The caller was interrupted mid-call: the worker's state is unknown, so it goes.
            self._discard(worker)
            self._replace()
            raise
        if not answered:
            self._discard(worker)
            self._replace()
            raise SandboxFailure("TimeoutError", f"the script ran longer than {timeout:g} s and was stopped")
        self._checkin(worker)
        return response

    def close(self) -> None:
        """Stop every worker: idle ones now, busy ones when their call ends."""
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._live -= len(idle)
            self._condition.notify_all()
        for worker in idle:
            self._stop(worker)

    # --- internals -----------------------------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        parent_end, child_end = socket.socketpair()
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",  # isolated: no PYTHON* variables, no user site, no current directory on the path
                    "-c",
                    _WORKER_BOOTSTRAP,
                    _IMPORT_ROOT,
                    str(child_end.fileno()),
                    json.dumps(asdict(self.limits)),
                ],
                pass_fds=[child_end.fileno()],
                env={},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
                # Own session: a Ctrl-C meant for the server does not reach the workers; they exit when the
                # pool closes their socket (or the server's process ends and the kernel closes it).
                start_new_session=True,
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        return _Worker(process, Connection(parent_end.detach()))

    def _checkout(self) -> _Worker:
        """An idle, started worker: popped from the idle stack, or started when the pool is short."""
        failed_starts = 0
        while True:
            worker: _Worker | None = None
            with self._condition:
                if self._closed:
                    raise SandboxFailure("PoolClosed", "the script pool is shut down")
                if self._idle:
                    worker = self._idle.pop()  # most recently used first: its compiled-code cache is warm
                elif self._live < self.size:
                    self._live += 1
                else:
                    self._condition.wait(timeout=1.0)
                    continue
            if worker is None:
                try:
                    worker = self._start_worker()
                except BaseException:
                    with self._condition:
                        self._live -= 1
                        self._condition.notify()
                    raise
            if worker.is_alive() and worker.wait_until_ready():
                return worker
            self._discard(worker)
            failed_starts += 1
            if failed_starts > MAX_FAILED_STARTS:
                # Something is wrong with the environment (the worker's stderr, in the server's log, says
                # what): fail this call rather than start processes in a loop.
                raise SandboxFailure("WorkerStartFailed", "script worker processes fail to start")
            self._replace()

    def _checkin(self, worker: _Worker, *, fresh: bool = False) -> None:
        with self._condition:
            if not self._closed:
                # A fresh worker may still be importing: it goes to the bottom of the (LIFO) idle stack.
                if fresh:
                    self._idle.insert(0, worker)
                else:
                    self._idle.append(worker)
                self._condition.notify()
                return
            self._live -= 1
        self._stop(worker)

    def _discard(self, worker: _Worker) -> int | None:
        """Kill a checked-out worker and forget it. Returns its exit code."""
        with self._condition:
            self._live -= 1
            self._condition.notify()
        return self._stop(worker, kill=True)

    def _replace(self) -> None:
        """Start a worker for one that was discarded, so the pool does not stay short. When that fails, the
        next checkout tries again."""
        with self._condition:
            if self._closed or self._live >= self.size:
                return
            self._live += 1
        try:
            worker = self._start_worker()
        except Exception:
            logger.exception("Could not start a replacement script worker")
            with self._condition:
                self._live -= 1
            return
        self._checkin(worker, fresh=True)

    @staticmethod
    def _stop(worker: _Worker, *, kill: bool = False) -> int | None:
        process = worker.process
        if kill and worker.is_alive():
            process.kill()
        worker.connection.close()  # an idle worker sees EOF and exits
        try:
            return process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == signal.SIGKILL:
            return f"the script worker process was killed ({name}), for example for using too much memory"
        if number == signal.SIGXCPU:
            return "the script used too much CPU time and its worker process was stopped"
        return f"the script worker process ended unexpectedly ({name})"
    return f"the script worker process ended unexpectedly (exit status {exitcode})"


# --- The pool of this process ------------------------------------------------------------------------------

_pool: ScriptPool | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()
_atexit_registered = False


def limits_from_settings() -> WorkerLimits:
    from django.conf import settings

    return WorkerLimits(
        cpu_seconds=settings.PATCHBAY_SCRIPT_CPU_SECONDS,
        memory_mb=settings.PATCHBAY_SCRIPT_MEMORY_MB,
        max_result_bytes=settings.PATCHBAY_SCRIPT_MAX_RESULT_BYTES,
        max_log_bytes=settings.PATCHBAY_SCRIPT_MAX_LOG_BYTES,
    )


def get_pool() -> ScriptPool:
    """The process's pool, started on first use from the settings (PATCHBAY_SCRIPT_POOL_SIZE and the
    PATCHBAY_SCRIPT_* limits). A process forked after the pool was made gets its own pool."""
    global _pool, _pool_pid, _atexit_registered
    pool = _pool
    if pool is not None and _pool_pid == os.getpid() and not pool.closed:
        return pool
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid() and not _pool.closed:
            return _pool
        from django.conf import settings

        _pool = ScriptPool(size=settings.PATCHBAY_SCRIPT_POOL_SIZE, limits=limits_from_settings())
        _pool_pid = os.getpid()
        if not _atexit_registered:
            atexit.register(shutdown_pool)
            _atexit_registered = True
        return _pool


def shutdown_pool() -> None:
    """Stop the process's pool (the next `get_pool()` starts a new one, with the settings of that time)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None and _pool_pid == os.getpid():
        pool.close()


def pool_stats() -> dict[str, int]:
    """Worker counts of this process's pool by state (all zero before the pool is started)."""
    pool = _pool
    if pool is None or _pool_pid != os.getpid():
        return {"configured": 0, "idle": 0, "busy": 0}
    return pool.stats()
