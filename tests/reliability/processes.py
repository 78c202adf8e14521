"""Process helpers of the fault tests: child processes (Celery workers, a Patchbay server, redis-server)
started against this test's database, each stopped by its PID; a tiny local HTTP upstream; and the
checks every fault test ends with (no run lost, none finished twice, every log gap-free).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.db import connection
from kombu import pools as kombu_pools

from config.celery import app as celery_app
from runs.models import LogLine, Run, Step

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "")
FINISH_PREFIXES = ("Run succeeded in", "Run failed in", "Run stopped in", "Run partial success in")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url_of_this_test() -> str:
    """A PATCHBAY_DATABASE_URL for the database this test process is using right now."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    user = quote(database.get("USER") or "")
    password = quote(database.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = database["HOST"] or "127.0.0.1"
    return f"postgres://{credentials}{host}:{database['PORT'] or 5432}/{database['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the pytest markers (a child is not a test), plus `overrides`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTEST_VERSION", "PATCHBAY_TEST_ON_POSTGRES", "PYTEST_CURRENT_TEST"}
    }
    environment.update(
        PATCHBAY_DATABASE_URL=database_url_of_this_test(),
        PATCHBAY_LOG_LEVEL="WARNING",
        PYTHONDONTWRITEBYTECODE="1",
    )
    environment.update(overrides)
    return environment


@dataclass
class Child:
    """One started process and its log file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL, as a crash would: no shutdown code of the child runs."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def tail(self, characters: int = 3000) -> str:
        """The first traceback in the log (when there is one) and the end of the log."""
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")
            first = text.find("Traceback")
            head = text[first : first + characters] + "\n[...]\n" if first >= 0 else ""
            return head + text[-characters:]
        return ""


@dataclass
class Children:
    """Every process a test starts; `stop_all` stops each by its PID (also after a failure)."""

    log_dir: Path
    started: list[Child] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        log_path = self.log_dir / f"{name}-{len(self.started) + 1}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        child = Child(name=name, process=process, log_path=log_path)
        self.started.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self.started):
            child.stop()

    def report(self) -> None:
        """Print the end of every log (pytest shows it only when the test failed)."""
        for child in self.started:
            print(f"----- {child.name} (pid {child.pid}, exit {child.process.returncode})\n{child.tail()}")


@contextlib.contextmanager
def children() -> Iterator[Children]:
    log_dir = Path(tempfile.mkdtemp(prefix="patchbay-reliability-"))
    group = Children(log_dir=log_dir)
    try:
        yield group
    finally:
        group.stop_all()
        group.report()
        shutil.rmtree(log_dir, ignore_errors=True)


def start_celery_worker(
    group: Children, *, queue: str, redis_url: str, threads: int = 4, **env: str
) -> Child:
    environment = child_env(
        PATCHBAY_REDIS_URL=redis_url,
        PATCHBAY_EXECUTOR="celery",
        PATCHBAY_CELERY_QUEUE=queue,
        PATCHBAY_WORKERS=str(threads),
        **env,
    )
    return group.start(
        "celery-worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=threads",
            f"--concurrency={threads}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
            "-n",
            f"reliability-{uuid.uuid4().hex[:8]}@%h",
        ],
        environment,
    )


def start_server(group: Children, *, port: int, **env: str) -> Child:
    """`manage.py runserver --noreload` (uvicorn serving the ASGI app, with the embedded executor)."""
    environment = child_env(PATCHBAY_EXECUTOR="embedded", **env)
    return group.start(
        "server",
        [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        environment,
    )


def wait_until(predicate: Callable[[], bool], seconds: float, interval: float = 0.2) -> bool:
    """Poll `predicate` until it holds or `seconds` pass (a guard against hanging, not a timed assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def wait_for_port(port: int, seconds: float = 60.0) -> bool:
    def answers() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    return wait_until(answers, seconds, interval=0.1)


# --- Celery app of this (test) process ------------------------------------------------------------------
def reset_broker_connections() -> None:
    """Drop the Celery app's cached broker connections so that a changed broker_url takes effect."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu_pools.reset()


@contextlib.contextmanager
def celery_sending_to(redis_url: str) -> Iterator[str]:
    """Point this process's Celery app at `redis_url` and a queue of its own; restore it afterwards."""
    queue = f"patchbay-reliability-{uuid.uuid4().hex[:12]}"
    saved = {
        "broker_url": celery_app.conf.broker_url,
        "task_default_queue": celery_app.conf.task_default_queue,
    }
    celery_app.conf.update(broker_url=redis_url, task_default_queue=queue)
    reset_broker_connections()
    try:
        yield queue
    finally:
        reset_broker_connections()
        celery_app.conf.update(**saved)
        # Duplicate messages (sweeps resubmit runs) may be left in the queue: leave no keys behind.
        with contextlib.suppress(Exception), redis.Redis.from_url(redis_url, socket_timeout=5) as client:
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


# --- redis-server of the test's own ---------------------------------------------------------------------
class RedisServer:
    """A throw-away redis-server on a free loopback port (never the machine's shared Redis)."""

    def __init__(self, group: Children) -> None:
        self.group = group
        self.port = free_port()
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.child = self.group.start(
            "redis-server",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            dict(os.environ),
        )
        assert wait_for_port(self.port, 20), "redis-server did not start"

    def restart(self, down_seconds: float = 1.0) -> None:
        """SIGKILL it (what it held is gone: a crash without persistence), then start it again."""
        assert self.child is not None
        self.child.kill9()
        time.sleep(down_seconds)
        self.start()


# --- a local upstream -----------------------------------------------------------------------------------
class QuietHTTPServer(ThreadingHTTPServer):
    """A client that dies mid-request (a killed worker) is expected here: no traceback for it."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class CountingUpstream:
    """`GET /orders/<n>` answers `{"order": n}` after `delay` seconds and counts the calls per order."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: Counter[int] = Counter()
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                try:
                    number = int(self.path.rstrip("/").rsplit("/", 1)[-1])
                except ValueError:
                    number = -1
                with upstream._lock:
                    upstream.calls[number] += 1
                if upstream.delay:
                    time.sleep(upstream.delay)
                body = json.dumps({"order": number}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="upstream", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> CountingUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


# --- the checks -----------------------------------------------------------------------------------------
def check_runs(run_ids: list[int]) -> dict[str, int]:
    """Assert that every run ended once, with a complete, gap-free log and one step row per work item.

    Returns the count of runs per final status.
    """
    runs = {run.pk: run for run in Run.objects.filter(pk__in=run_ids)}
    assert len(runs) == len(run_ids), f"{len(run_ids) - len(runs)} runs are missing"
    unfinished = {pk: run.status for pk, run in runs.items() if not run.is_terminal}
    assert not unfinished, f"runs that did not end: {unfinished}"

    seqs: dict[int, list[int]] = {pk: [] for pk in run_ids}
    finishes: Counter[int] = Counter()
    for run_id, seq, message in LogLine.objects.filter(run_id__in=run_ids).values_list(
        "run_id", "seq", "message"
    ):
        seqs[run_id].append(seq)
        if message.startswith(FINISH_PREFIXES):
            finishes[run_id] += 1
    for pk, numbers in seqs.items():
        numbers.sort()
        assert numbers == list(range(1, len(numbers) + 1)), f"run {pk}: log sequence has gaps: {numbers}"
        assert numbers[-1] == runs[pk].log_seq, f"run {pk}: log_seq {runs[pk].log_seq} != last line"
    twice = {pk: n for pk, n in finishes.items() if n != 1}
    assert not twice, f"runs finished more than once: {twice}"
    never = [pk for pk in run_ids if finishes[pk] == 0]
    assert not never, f"runs without a finish log line: {never[:20]}"

    duplicate_steps = (
        Step.objects.filter(run_id__in=run_ids).values_list("run_id", "shape_id", "input_index").order_by()
    )
    step_counts = Counter(duplicate_steps)
    doubled = [key for key, count in step_counts.items() if count > 1]
    assert not doubled, f"work items executed as two step rows: {doubled[:20]}"
    return dict(Counter(run.status for run in runs.values()))
