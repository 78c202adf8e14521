"""Embedded executor: worker threads inside the server process (DESIGN sections 3 and 9).

`PATCHBAY_WORKERS` worker threads loop `claim_next_run` -> `execute_run`. They sleep on one wake event that
`submit()` sets, and otherwise poll the queue every `poll_interval` seconds, which is how runs that become
due later (step and run retries with a future `available_at`) and runs re-queued after a lost lease are
picked up, including those left behind by a previous process. One sweeper thread re-queues runs whose
lease expired, fires due schedules and, hourly, prunes the run history.

Only the server starts it (`start_for_server`, called from config.asgi); tests call `run_once` /
`sweep_once` directly or start an executor of their own.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connections

from connectors.client import close_kept_clients
from runs import lifecycle
from runs.engine import execute_claimed_run
from runs.executors import register_local_executor, unregister_local_executor
from runs.retention import prune_runs
from runs.signals import executor_swept
from runs.triggers.schedule import fire_due_schedules
from runs.triggers.waiters import notify_run_finished
from scripts_app.sandbox.pool import get_pool

logger = logging.getLogger(__name__)


def prestart_script_pool() -> None:
    """Start the custom-script worker processes before any executor thread exists.

    The sandbox processes are started with forkserver/spawn by scripts_app; starting them here, from the
    main thread and before the executor threads, keeps the first script step from paying their start-up.
    The pool is sized by PATCHBAY_SCRIPT_POOL_SIZE, which defaults to PATCHBAY_WORKERS + 1 (a slot per run).
    """
    get_pool()


def prune_run_history() -> None:
    """Apply the retention settings (runs.retention)."""
    prune_runs()


class EmbeddedExecutor:
    """Worker and sweeper threads. `start()` and `stop()` are idempotent; `submit()` never blocks."""

    def __init__(
        self,
        *,
        workers: int | None = None,
        poll_interval: float = 1.0,
        sweep_interval: float = 1.0,
        prune_interval: float = 3600.0,
    ) -> None:
        self.workers = workers if workers is not None else settings.PATCHBAY_WORKERS
        self.poll_interval = poll_interval
        self.sweep_interval = sweep_interval
        self.prune_interval = prune_interval
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        # submit() bumps the generation and wakes one idle worker (not all of them: a herd of workers
        # racing for one run costs a failed claim, a write transaction on SQLite, each).
        self._wake = threading.Condition()
        self._generation = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._last_prune = 0.0

    # --- interface -------------------------------------------------------------------------------------
    def submit(self, run_id: int, *, available_at: datetime | None = None) -> None:
        # The queue is in the database; waking a worker is all there is to do (a run due later is found by
        # the workers' poll).
        self._notify(1)

    def _notify(self, workers: int) -> None:
        with self._wake:
            self._generation += 1
            self._wake.notify(workers)

    def _wait_for_work(self, seen_generation: int) -> None:
        """Sleep until a submit after `seen_generation`, a stop, or `poll_interval` (due retries)."""
        with self._wake:
            if self._generation == seen_generation and not self._stopping.is_set():
                self._wake.wait(self.poll_interval)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    # --- one iteration (what tests call) ---------------------------------------------------------------
    def run_once(self, worker_id: str) -> bool:
        """Claim the next due run and execute it. Returns False when no run was due.

        Side effects: everything `runs.engine.execute_run` does (steps, log lines, events after commit),
        then wakes webhook callers of this process waiting for the run (runs.triggers.waiters).
        """
        run = lifecycle.claim_next_run(worker_id=worker_id)
        if run is None:
            return False
        try:
            execute_claimed_run(run, worker_id=worker_id)
        finally:
            notify_run_finished(run.pk)
        return True

    def sweep_once(self, *, now_monotonic: float | None = None) -> int:
        """Re-queue runs whose lease expired, fire due schedules, prune hourly, then let other apps heal
        (`runs.signals.executor_swept`). Returns the requeued count."""
        requeued = lifecycle.requeue_expired_leases()
        fired = fire_due_schedules()
        if requeued or fired:
            self._notify(requeued + len(fired))
        now_monotonic = time.monotonic() if now_monotonic is None else now_monotonic
        if now_monotonic - self._last_prune >= self.prune_interval:
            self._last_prune = now_monotonic
            prune_run_history()
        for receiver, result in executor_swept.send_robust(sender=type(self)):
            if isinstance(result, Exception):
                logger.error("A receiver of executor_swept failed: %r", receiver, exc_info=result)
        return requeued

    # --- threads ---------------------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            # Do not prune at start-up: a restart loop must not turn into a pruning loop.
            self._last_prune = time.monotonic()
            prestart_script_pool()
            self._threads = [
                threading.Thread(
                    target=self._worker_loop,
                    args=(f"{self.identity}:worker-{index + 1}",),
                    name=f"patchbay-worker-{index + 1}",
                    daemon=True,
                )
                for index in range(self.workers)
            ]
            self._threads.append(
                threading.Thread(target=self._sweeper_loop, name="patchbay-sweeper", daemon=True)
            )
            for thread in self._threads:
                thread.start()
            register_local_executor(self)
            logger.info("Embedded executor started: %d worker threads and a sweeper.", self.workers)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every thread to finish after its current run and wait up to `timeout` seconds in total.

        A run still executing when the wait ends keeps its lease; it expires and the run resumes from its
        checkpoint in the next process (crash safety, DESIGN section 3).
        """
        with self._lock:
            unregister_local_executor(self)
            self._stopping.set()
            with self._wake:
                self._wake.notify_all()
            deadline = time.monotonic() + timeout
            for thread in self._threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            alive = [thread.name for thread in self._threads if thread.is_alive()]
            if alive:
                logger.warning("Embedded executor stopped with threads still running: %s", alive)
            self._threads = [thread for thread in self._threads if thread.is_alive()]

    def _worker_loop(self, worker_id: str) -> None:
        try:
            while not self._stopping.is_set():
                # Read before claiming: a submit() after this point makes the wait below return at once.
                generation = self._generation
                try:
                    ran = self.run_once(worker_id)
                except Exception:
                    logger.exception("Worker %s failed while executing a run", worker_id)
                    close_old_connections()
                    ran = False
                    self._stopping.wait(self.poll_interval)
                if not ran:
                    self._wait_for_work(generation)
        finally:
            close_kept_clients()
            connections.close_all()

    def _sweeper_loop(self) -> None:
        try:
            while not self._stopping.wait(self.sweep_interval):
                try:
                    self.sweep_once()
                except Exception:
                    logger.exception("Embedded executor sweep failed")
                    close_old_connections()
        finally:
            connections.close_all()


_executor: EmbeddedExecutor | None = None
_executor_lock = threading.Lock()


def get_embedded_executor() -> EmbeddedExecutor:
    """The process-wide embedded executor (created on first use, started only by `start_for_server`)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = EmbeddedExecutor()
        return _executor


SERVER_PROGRAMS = {"daphne", "uvicorn", "hypercorn", "gunicorn"}


def is_server_process(argv: list[str] | None = None) -> bool:
    """True in an ASGI server process: `manage.py runserver` (its autoreload child, or with --noreload)
    or a daphne / uvicorn / hypercorn / gunicorn command line. False for every other management command."""
    argv = sys.argv if argv is None else argv
    if not argv:
        return False
    program = os.path.basename(argv[0])
    if program == "__main__.py":  # python -m daphne
        program = os.path.basename(os.path.dirname(argv[0]))
    if program in SERVER_PROGRAMS or program.startswith(tuple(f"{name}." for name in SERVER_PROGRAMS)):
        return True
    if len(argv) > 1 and argv[1] == "runserver":
        # The autoreloader's parent only watches files and restarts the child; the child has RUN_MAIN.
        return os.environ.get("RUN_MAIN") == "true" or "--noreload" in argv
    return False


def start_for_server() -> EmbeddedExecutor | None:
    """Start the embedded executor when this process is the server and the executor is `embedded`.

    Called from config.asgi at import. Never starts under tests (settings.TESTING) or for other management
    commands, so `migrate`, `shell` and friends never execute runs.
    """
    if settings.PATCHBAY_EXECUTOR != "embedded" or getattr(settings, "TESTING", False):
        return None
    if not is_server_process():
        return None
    executor = get_embedded_executor()
    executor.start()
    atexit.register(executor.stop)
    return executor
