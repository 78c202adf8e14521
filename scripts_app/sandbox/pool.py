"""The server's side of the sandbox: one zygote process, a process per call, and fair scheduling.

`ScriptPool` starts the zygote (`zygote.py`: a fresh `python -I` interpreter, jailed, never a fork of the
threaded server) and, for each call, makes a socket pair, hands one end to the zygote (which forks the
call's process onto it) and talks to that process over the other end: the request out, one answer frame
back. The answer is read with a size cap and decoded as JSON; nothing else of the script reaches the server.
The zygote's stderr is read by a thread and logged (bounded); the calls' own stderr is /dev/null.

Scheduling: at most `size` calls run at once, at most `per_flow` of them for one flow (the `key` of a call),
and a call that cannot start within `queue_timeout` seconds fails with `QueueTimeout`. Waiting calls start
in arrival order among those whose flow is under its cap, so one busy flow cannot starve another.

`get_pool()` gives the one pool of this process, created on first use from the PATCHBAY_SCRIPT_* settings
and shut down at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from scripts_app.sandbox.call import REQUEST_OVERHEAD_BYTES, Limits

logger = logging.getLogger(__name__)

# The directory that holds the `scripts_app` package: on the zygote's import path only while it imports.
_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent.parent)
ZYGOTE_START_TIMEOUT = 30.0  # seconds a new zygote may take to start, not counted in any call's timeout
ANSWER_GRACE_SECONDS = 5.0  # the zygote kills a call 1 s past its timeout; this is the server's last resort
MAX_STDERR_LINES = 200  # lines of the zygote's stderr logged per zygote; the rest is read and dropped
_ZYGOTE_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from scripts_app.sandbox.zygote import entry; sys.path.remove(sys.argv[1]); entry(sys.argv[2:])"
)
JAIL_MODES = ("auto", "off", "required")


@dataclass(frozen=True)
class PoolConfig:
    size: int = 4
    per_flow: int = 2
    queue_timeout: float = 30.0
    limits: Limits = field(default_factory=Limits)
    jail: str = "auto"
    uid: int = 65534
    hidden: tuple[str, ...] = ()


class SandboxFailure(Exception):
    """A call did not produce an answer: it timed out, its process died, it waited too long for a slot, or
    the pool is closed."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


# --- Fair scheduling ---------------------------------------------------------------------------------------


class _Waiter:
    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


class FairScheduler:
    """`size` slots; at most `per_key` held by one key; waiting callers served in arrival order among those
    whose key is under its cap; a bounded wait."""

    def __init__(self, *, size: int, per_key: int, queue_timeout: float) -> None:
        self.size = size
        self.per_key = max(1, min(per_key, size))
        self.queue_timeout = queue_timeout
        self._condition = threading.Condition()
        self._running: dict[str, int] = {}
        self._busy = 0
        self._queue: deque[_Waiter] = deque()

    def _may_start(self, waiter: _Waiter) -> bool:
        if self._busy >= self.size:
            return False
        for earlier in self._queue:
            if earlier is waiter:
                return self._running.get(waiter.key, 0) < self.per_key
            if self._running.get(earlier.key, 0) < self.per_key:
                return False  # an earlier caller could start: it goes first
        return False

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        waiter = _Waiter(key)
        deadline = time.monotonic() + self.queue_timeout
        with self._condition:
            self._queue.append(waiter)
            try:
                while not self._may_start(waiter):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise SandboxFailure(
                            "QueueTimeout",
                            f"no script slot became free within {self.queue_timeout:g} s (all {self.size} "
                            f"were busy, at most {self.per_key} per flow); try again later",
                        )
                    self._condition.wait(remaining)
            finally:
                self._queue.remove(waiter)
                self._condition.notify_all()
            self._busy += 1
            self._running[key] = self._running.get(key, 0) + 1
        try:
            yield
        finally:
            with self._condition:
                self._busy -= 1
                left = self._running[key] - 1
                if left:
                    self._running[key] = left
                else:
                    del self._running[key]
                self._condition.notify_all()

    def stats(self) -> dict[str, int]:
        with self._condition:
            return {
                "configured": self.size,
                "idle": self.size - self._busy,
                "busy": self._busy,
                "waiting": len(self._queue),
            }


# --- The zygote --------------------------------------------------------------------------------------------


class _Zygote:
    def __init__(self, config: PoolConfig) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        zygote_config = {
            "limits": asdict(config.limits),
            "jail": config.jail,
            "uid": config.uid,
            "hidden": list(config.hidden),
        }
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",  # isolated: no PYTHON* variables, no user site, no current directory on the path
                    "-c",
                    _ZYGOTE_BOOTSTRAP,
                    _IMPORT_ROOT,
                    str(child_end.fileno()),
                    json.dumps(zygote_config),
                ],
                pass_fds=[child_end.fileno()],
                env={},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd="/",
                # Own session: a Ctrl-C meant for the server does not reach it; it exits when the pool closes
                # the control socket (or the server's process ends and the kernel closes it).
                start_new_session=True,
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()
        self.control = parent_end
        self.send_lock = threading.Lock()
        self.stderr_thread = threading.Thread(
            target=_log_stderr, args=(self.process.stderr,), name="script-zygote-stderr", daemon=True
        )
        self.stderr_thread.start()
        self.control.settimeout(ZYGOTE_START_TIMEOUT)
        try:
            ready = json.loads(self.control.recv(1 << 16) or b"{}")
        except (OSError, ValueError):
            ready = {}
        self.control.settimeout(None)
        if not ready.get("ready"):
            self.stop()
            raise SandboxFailure(
                "WorkerStartFailed", "the script sandbox process failed to start (see the server log)"
            )
        self.pid = int(ready["pid"])
        self.layers: dict[str, dict[str, Any]] = ready["layers"]

    def alive(self) -> bool:
        return self.process.poll() is None

    def request_spares(self, count: int, *, warm: bool = True) -> list[Connection]:
        """Have the zygote fork `count` processes, each waiting for one call, in one go (it forks them back
        to back); returns the pool's ends of their sockets. `warm`: each runs the fixed warm-up call before
        it waits (`zygote.py`). Raises OSError when the zygote is gone."""
        pairs = [socket.socketpair() for _ in range(count)]
        header = b'{"spare": true}' if warm else b'{"spare": true, "warm": false}'
        try:
            with self.send_lock:
                socket.send_fds(self.control, [header], [theirs.fileno() for _, theirs in pairs])
        except BaseException:
            for ours, _ in pairs:
                ours.close()
            raise
        finally:
            for _, theirs in pairs:
                theirs.close()
        return [Connection(ours.detach()) for ours, _ in pairs]

    def request_spare(self) -> Connection:
        """One process waiting for a call (see `request_spares`)."""
        return self.request_spares(1)[0]

    def started(self, pid: int, timeout: float) -> None:
        """The process got its request: the zygote kills it one second past `timeout`."""
        message = json.dumps({"started": pid, "timeout": timeout}).encode()
        with self.send_lock, contextlib.suppress(OSError):
            self.control.send(message)

    def stop(self) -> None:
        self.control.close()  # the zygote sees EOF and exits; its running calls die with it (PDEATHSIG)
        try:
            self.process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _log_stderr(stream: IO[bytes] | None) -> None:
    if stream is None:
        return
    logged = 0
    with stream:
        while line := stream.readline(4096):  # a line without an end is read (and logged) in pieces
            if logged < MAX_STDERR_LINES:
                logger.warning("script sandbox: %s", line[:2000].decode("utf-8", "replace").rstrip())
            elif logged == MAX_STDERR_LINES:
                logger.warning("script sandbox: further output of this sandbox process is dropped")
            logged += 1


# --- The pool ----------------------------------------------------------------------------------------------


class ScriptPool:
    """Thread-safe. Each call runs in a process of its own, forked from the pool's zygote."""

    def __init__(self, config: PoolConfig) -> None:
        if config.size < 1:
            raise ValueError("the script pool needs at least one slot")
        if config.jail not in JAIL_MODES:
            raise ValueError(f"PATCHBAY_SCRIPT_JAIL must be one of {', '.join(JAIL_MODES)}")
        self.config = config
        self.size = config.size
        self.limits = config.limits
        self.scheduler = FairScheduler(
            size=config.size, per_key=config.per_flow, queue_timeout=config.queue_timeout
        )
        # An answer holds at most the result, the logs and the error, plus the JSON around them.
        self.max_answer_bytes = (
            config.limits.max_result_bytes + 2 * config.limits.max_log_bytes + REQUEST_OVERHEAD_BYTES
        )
        self._lock = threading.RLock()
        self._closed = False
        # Processes forked ahead, each waiting for one call: one per slot, at most eight.
        self.spare_target = min(config.size, 8)
        self.spare_batch = max(1, self.spare_target // 2)
        self._calls_outrun_spares = False
        self._spares: deque[tuple[_Zygote, Connection]] = deque()
        self._zygote = self._start_zygote()
        try:
            self._top_up()
        except OSError:
            self._zygote_failed(self._zygote)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def layers(self) -> dict[str, dict[str, Any]]:
        return self._zygote.layers

    @property
    def zygote_pid(self) -> int:
        return self._zygote.pid

    def stats(self) -> dict[str, int]:
        return self.scheduler.stats()

    def _start_zygote(self) -> _Zygote:
        zygote = _Zygote(self.config)
        inactive = {name: layer["detail"] for name, layer in zygote.layers.items() if not layer["active"]}
        if inactive and self.config.jail == "required":
            zygote.stop()
            raise SandboxFailure(
                "JailUnavailable",
                "PATCHBAY_SCRIPT_JAIL=required but these layers are not active: "
                + "; ".join(f"{name}: {detail}" for name, detail in inactive.items()),
            )
        for name, detail in inactive.items():
            logger.warning("Script sandbox: the %s layer of the jail is not active (%s)", name, detail)
        return zygote

    def _current_zygote_locked(self) -> _Zygote:
        """The running zygote (a new one when it ended). Called with `_lock` held."""
        if self._closed:
            raise SandboxFailure("PoolClosed", "the script pool is shut down")
        if not self._zygote.alive():
            logger.warning("Script sandbox: the zygote process ended; starting a new one")
            self._zygote.stop()
            stale, self._spares = self._spares, deque()
            for _, connection in stale:
                connection.close()
            self._zygote = self._start_zygote()
        return self._zygote

    def call(self, request: bytes, *, timeout: float, key: str = "", checksum: str = "") -> dict[str, Any]:
        """Run one request (which carries its `timeout`) in a process of its own and return its decoded
        answer.

        Raises SandboxFailure ("QueueTimeout", "TimeoutError", "CpuLimitExceeded", "WorkerCrashed",
        "ResultTooLarge", "PoolClosed", "WorkerStartFailed"). Waits at most the queue timeout for a slot; the
        timeout counts from when the call's process got the request.
        """
        with self.scheduler.slot(key or "-"):
            zygote, connection, pid = self._take_spare()
            try:
                return self._exchange(connection, request, timeout, zygote=zygote, pid=pid)
            finally:
                connection.close()

    def _take_spare(self) -> tuple[_Zygote, Connection, int]:
        """A forked process waiting for a call (one that was forked ahead, or a new one), with its pid. The
        spares taken are replaced (in batches) while this call runs: on two idle cores the zygote forks on
        one while the call runs on the other."""
        for _ in range(3):
            with self._lock:
                zygote = self._current_zygote_locked()
                entry = self._spares.popleft() if self._spares else None
            try:
                if entry is None:
                    entry = (zygote, zygote.request_spare())
                self._top_up()
            except OSError:
                self._zygote_failed(zygote)
                continue
            spare_zygote, connection = entry
            # A spare that is not forked yet means calls come faster than spares are made: the warm-up
            # would then only delay the calls waiting for them, so the next spares skip it (until a call
            # finds its spare ready again).
            self._calls_outrun_spares = not connection.poll(0)
            try:
                ready = connection.poll(ZYGOTE_START_TIMEOUT)
                frame = connection.recv_bytes(1024) if ready else b""
                pid = int(json.loads(frame[1:])["pid"]) if frame[:1] == b"P" else 0
            except (EOFError, OSError, ValueError, KeyError, TypeError):
                pid = 0
            if pid > 0:
                return spare_zygote, connection, pid
            connection.close()
            if not spare_zygote.alive():
                self._zygote_failed(spare_zygote)
        raise SandboxFailure("WorkerCrashed", "no script process could be started (see the server log)")

    def _top_up(self) -> None:
        """Fork spares in batches: once half of them are taken, all the missing ones at once. The zygote
        forks a batch back to back, so the pages its own work writes between forks are copied once per
        batch instead of once per call (each fork shares every page of the zygote with the new child
        again, and the zygote's next write to a page copies it)."""
        with self._lock:
            missing = self.spare_target - len(self._spares)
            if self._closed or missing < self.spare_batch:
                return
            zygote = self._zygote
            spares = zygote.request_spares(missing, warm=not self._calls_outrun_spares)
            self._spares.extend((zygote, spare) for spare in spares)

    def _zygote_failed(self, zygote: _Zygote) -> None:
        """The zygote is dead or wedged: kill it (the next call starts a new one) and drop its spares."""
        with contextlib.suppress(OSError):
            zygote.process.kill()
        with self._lock:
            stale = [connection for owner, connection in self._spares if owner is zygote]
            self._spares = deque((owner, c) for owner, c in self._spares if owner is not zygote)
        for connection in stale:
            connection.close()

    def _exchange(
        self, connection: Connection, request: bytes, timeout: float, *, zygote: _Zygote, pid: int
    ) -> dict[str, Any]:
        with contextlib.suppress(OSError):  # the process is gone already; the zygote's exit frame says why
            connection.send_bytes(request)
        zygote.started(pid, timeout)
        wait = timeout + ANSWER_GRACE_SECONDS if timeout > 0 else None
        try:
            if not connection.poll(wait):
                raise SandboxFailure(
                    "TimeoutError", f"the script ran longer than {timeout:g} s and was stopped"
                )
            frame = connection.recv_bytes(self.max_answer_bytes)
        except EOFError:
            raise SandboxFailure("WorkerCrashed", "the script process ended without an answer") from None
        except OSError as exc:
            if "bad message length" in str(exc):
                raise SandboxFailure(
                    "ResultTooLarge", f"the script's answer is larger than {self.max_answer_bytes} bytes"
                ) from None
            raise SandboxFailure("WorkerCrashed", "the script process ended without an answer") from None
        try:
            answer = json.loads(frame[1:])
        except ValueError:
            raise SandboxFailure(
                "WorkerCrashed", "the script process sent an answer that is not JSON"
            ) from None
        if not isinstance(answer, dict):
            raise SandboxFailure("WorkerCrashed", "the script process sent an answer that is not an object")
        if frame[:1] == b"R":
            return answer
        raise SandboxFailure(
            str(answer.get("type") or "WorkerCrashed"), str(answer.get("reason") or "no answer")
        )

    def probe(self, paths: list[str]) -> dict[str, Any]:
        """Run the jail's self-check in a call's process (no script): ids, which paths open, socket, fork."""
        request = json.dumps({"op": "probe", "paths": paths, "timeout": 10.0}).encode()
        return self.call(request, timeout=10.0, key="probe")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            zygote = self._zygote
            spares, self._spares = self._spares, deque()
        for _, connection in spares:
            connection.close()
        zygote.stop()


# --- The pool of this process ------------------------------------------------------------------------------

_pool: ScriptPool | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()
_atexit_registered = False


def limits_from_settings() -> Limits:
    from django.conf import settings

    return Limits(
        cpu_seconds=settings.PATCHBAY_SCRIPT_CPU_SECONDS,
        memory_mb=settings.PATCHBAY_SCRIPT_MEMORY_MB,
        max_result_bytes=settings.PATCHBAY_SCRIPT_MAX_RESULT_BYTES,
        max_log_bytes=settings.PATCHBAY_SCRIPT_MAX_LOG_BYTES,
        max_result_items=settings.PATCHBAY_SCRIPT_MAX_RESULT_ITEMS,
        max_result_depth=settings.PATCHBAY_SCRIPT_MAX_RESULT_DEPTH,
    )


def hidden_paths_from_settings() -> tuple[str, ...]:
    """Paths the jail's filesystem view must not contain (checked when the zygote starts)."""
    from django.conf import settings

    base = Path(settings.BASE_DIR)
    var = Path(getattr(settings, "VAR_DIR", base / "var"))
    paths = [var, base / "var", base / "config", base / ".env", Path(settings.MEDIA_ROOT)]
    for database in settings.DATABASES.values():
        name = str(database.get("NAME") or "")
        if (
            database.get("ENGINE", "").endswith("sqlite3")
            and name
            and not name.startswith(("file:", ":memory:"))
        ):
            paths.append(Path(name))
    return tuple(str(path) for path in paths)


def config_from_settings() -> PoolConfig:
    from django.conf import settings

    return PoolConfig(
        size=settings.PATCHBAY_SCRIPT_POOL_SIZE,
        per_flow=settings.PATCHBAY_SCRIPT_FLOW_CONCURRENCY,
        queue_timeout=settings.PATCHBAY_SCRIPT_QUEUE_TIMEOUT,
        limits=limits_from_settings(),
        jail=settings.PATCHBAY_SCRIPT_JAIL,
        uid=settings.PATCHBAY_SCRIPT_UID,
        hidden=hidden_paths_from_settings(),
    )


def get_pool() -> ScriptPool:
    """The process's pool, started on first use from the settings. A process forked after the pool was made
    gets its own pool."""
    global _pool, _pool_pid, _atexit_registered
    pool = _pool
    if pool is not None and _pool_pid == os.getpid() and not pool.closed:
        return pool
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid() and not _pool.closed:
            return _pool
        _pool = ScriptPool(config_from_settings())
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
    """Slot counts of this process's pool by state (all zero before the pool is started)."""
    pool = _pool
    if pool is None or _pool_pid != os.getpid():
        return {"configured": 0, "idle": 0, "busy": 0, "waiting": 0}
    return pool.stats()


def sandbox_status() -> dict[str, Any]:
    """For /healthz: the zygote and the jail's layers (starts the pool when it is not running yet)."""
    pool = get_pool()
    return {"zygote_pid": pool.zygote_pid, "layers": pool.layers, **pool.stats()}
