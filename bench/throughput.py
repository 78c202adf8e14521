#!/usr/bin/env python3
"""Throughput of the reference flow W (../shared/PEERS.md), measured the way the peers were.

W: webhook (final_payload reply) -> connector GET http://127.0.0.1:18080/orders/N on the peers' target API
-> script picking five fields, uppercasing the status and adding total_cents (target_api.transform)
-> the webhook caller gets the final payload.

For each mode the benchmark sets Patchbay up on a fresh database, deploys W, starts the servers, drives them
with the peers' load driver (load.py, every answer checked) at each concurrency, then counts the persisted
runs, steps and log lines, and stops every process it started (by PID, also on Ctrl-C):

- embedded: one server process (`manage.py runserver --noreload`, uvicorn, by default) with the embedded
            executor, SQLite (WAL);
- celery:   the same web process with PATCHBAY_EXECUTOR=celery, one `celery -A config worker` process
            (thread pool), PostgreSQL and Redis on 127.0.0.1.

Usage (from the repository; needs `pip install -e ".[bench]"` for aiohttp, psutil and uvicorn):

    python bench/throughput.py                       # both modes, concurrency 1, 16, 64, 2,000 runs each
    python bench/throughput.py --modes embedded -n 500 --concurrency 16
    python bench/throughput.py --peers /path/to/peers --json-out results.jsonl

The peers' folder defaults to ../shared/peers next to the repository. The celery mode creates (and drops
afterwards) the PostgreSQL database named by --postgres-database and uses a Redis queue of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PEERS = REPO.parent / "shared" / "peers"

W_SCRIPT = """\
import json


def handle(data):
    order = json.loads(data["payload"])
    total = 0
    for item in order["items"]:
        total += item["qty"] * item["unit_price_cents"]
    total += order["shipping"]["cost_cents"]
    data["payload"] = json.dumps({
        "order_id": order["id"],
        "customer": order["customer"]["name"],
        "email": order["customer"]["email"],
        "currency": order["currency"],
        "status": order["status"].upper(),
        "total_cents": total,
    })
    return data
"""


# --- inside Django: set up W and count what was persisted (run as subprocesses with the bench env) ------
def _django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def setup_flow(target: str) -> dict[str, Any]:
    """Create the connector, endpoint, script and flow W, deploy them; return the webhook path."""
    _django()
    from designer.models import Endpoint
    from designer.services import create_connector, create_flow, deploy_flow
    from scripts_app.models import Script
    from scripts_app.services import create_script, deploy_script

    connector = create_connector(name="Bench target API", base_url=target.rstrip("/") + "/", timeout=30.0)
    endpoint = Endpoint.objects.create(
        connector=connector, name="Get order", method="GET", path="orders/[[payload.order_id]]"
    )
    script = create_script(name="Bench transform", kind=Script.Kind.GENERAL, code=W_SCRIPT)
    deploy_script(script)
    graph = {
        "shapes": [
            {
                "id": "webhook",
                "type": "trigger",
                "name": "Webhook",
                "position": {"x": 0, "y": 0},
                "settings": {"kind": "webhook", "response": {"mode": "final_payload", "timeout": 60}},
            },
            {
                "id": "get-order",
                "type": "connector",
                "name": "Get order",
                "position": {"x": 240, "y": 0},
                "settings": {"connector": connector.pk, "endpoint": endpoint.pk, "retries": 0},
            },
            {
                "id": "transform",
                "type": "script",
                "name": "Transform",
                "position": {"x": 480, "y": 0},
                "settings": {"script": script.pk, "version": None},
            },
        ],
        "connections": [
            {"source": "webhook", "target": "get-order"},
            {"source": "get-order", "target": "transform"},
        ],
    }
    flow = create_flow(name="Bench W", graph=graph)
    deploy_flow(flow=flow)
    return {"webhook_path": flow.webhook_path}


def count_history() -> dict[str, Any]:
    _django()
    from django.db.models import Count

    from runs.models import LogLine, Payload, Run, Step

    return {
        "runs": dict(Run.objects.values_list("status").annotate(n=Count("id")).order_by()),
        "steps": Step.objects.count(),
        "log_lines": LogLine.objects.count(),
        "payloads": Payload.objects.count(),
    }


# --- process handling -----------------------------------------------------------------------------------
class Processes:
    """Every process the benchmark starts, stopped by PID (TERM, then KILL) in reverse order on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.started.append((name, process))
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 20.0) -> None:
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop_all(self) -> None:
        while self.started:
            _, process = self.started.pop()
            self.stop(process)


def wait_for_http(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP error status still means the server answers
                return
            time.sleep(0.25)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def run_django(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


@contextlib.contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark, dropped afterwards."""
    import psycopg

    with psycopg.connect(f"{server_url.rstrip('/')}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server_url.rstrip('/')}/{name}"
    finally:
        with psycopg.connect(f"{server_url.rstrip('/')}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- one mode -------------------------------------------------------------------------------------------
def server_command(server: str, port: int, web_workers: int = 1) -> list[str]:
    """The documented ways to serve Patchbay (README / docs/deploy.md), on 127.0.0.1:`port`.

    `web_workers` > 1 (uvicorn only): that many server processes on the one port, each with its own embedded
    executor claiming runs from the shared database (the multi-process evaluation in bench/README.md)."""
    if server == "runserver":
        return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    if server == "daphne":
        return [
            sys.executable,
            "-m",
            "daphne",
            "-v",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ]
    return [
        sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--http", "httptools", "--loop", "uvloop", "--no-access-log",
        "--log-level", "warning", "--lifespan", "off",
        *(["--workers", str(web_workers)] if web_workers > 1 else []),
    ]  # fmt: skip


def bench_mode(mode: str, options: argparse.Namespace, processes: Processes, scratch: Path) -> list[dict]:
    var_dir = scratch / mode
    (var_dir / "static").mkdir(parents=True, exist_ok=True)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PATCHBAY_", "PYTEST")) and name != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        PATCHBAY_VAR_DIR=str(var_dir),
        PATCHBAY_SECRET_KEY="bench-only-secret-key-" + "x" * 30,
        PATCHBAY_DEBUG="false",
        PATCHBAY_LOG_LEVEL="WARNING",
        PATCHBAY_EXECUTOR=mode,
        PATCHBAY_WORKERS=str(options.workers),
        PYTHONDONTWRITEBYTECODE="1",
    )
    if options.script_workers:
        env["PATCHBAY_SCRIPT_POOL_SIZE"] = str(options.script_workers)
    with contextlib.ExitStack() as stack:
        if mode == "embedded":
            env["PATCHBAY_DATABASE_URL"] = f"sqlite:///{var_dir / 'bench.sqlite3'}"
        else:
            env["PATCHBAY_DATABASE_URL"] = stack.enter_context(
                postgres_database(options.postgres_url, options.postgres_database)
            )
            env["PATCHBAY_REDIS_URL"] = options.redis_url
            if options.postgres_options:
                # libpq reads PGOPTIONS: e.g. "-c synchronous_commit=off" for every Patchbay connection.
                env["PGOPTIONS"] = options.postgres_options
            env["PATCHBAY_CELERY_QUEUE"] = f"patchbay-bench-{os.getpid()}"
        run_django(env, "manage.py", "migrate", "--noinput", "-v", "0")
        setup = json.loads(
            run_django(env, __file__, "--internal-setup", options.target).strip().splitlines()[-1]
        )
        url = f"http://127.0.0.1:{options.port}{setup['webhook_path']}"

        web = processes.start(
            f"{mode}-web", server_command(options.server, options.port, options.web_workers), env
        )
        monitors = ["--monitor", f"patchbay={web.pid}"]
        worker = None
        if mode == "celery":
            worker = processes.start(
                f"{mode}-worker",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=threads",
                    f"--concurrency={options.workers}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=WARNING",
                ],
                env,
            )
            monitors += ["--monitor", f"worker={worker.pid}"]
        try:
            wait_for_http(f"http://127.0.0.1:{options.port}/login/")
        except SystemExit:
            for name in (f"{mode}-web", f"{mode}-worker"):
                log = scratch / f"{name}.log"
                if log.exists():
                    print(f"--- {name} log (end) ---\n{log.read_text()[-3000:]}", flush=True)
            raise

        summaries = []
        results_file = scratch / f"{mode}.jsonl"
        for concurrency in options.concurrency:
            label = f"patchbay-{mode}-{'sqlite' if mode == 'embedded' else 'postgres'}{options.label_suffix}"
            driver = [
                sys.executable, str(options.peers / "load.py"), url,
                "-n", str(options.requests), "-c", str(concurrency), "--reps", str(options.reps),
                "--warmup", str(options.warmup), "--target", options.target, "--label", label,
                "--json-out", str(results_file), "--max-seconds", str(options.max_seconds),
                *monitors,
            ]  # fmt: skip
            subprocess.run(driver, cwd=REPO, env=env, check=False)
        for line in results_file.read_text().splitlines():
            summaries.append({"mode": mode + options.label_suffix, **json.loads(line)})

        processes.stop(web)
        if worker is not None:
            processes.stop(worker)
        history = json.loads(run_django(env, __file__, "--internal-count").strip().splitlines()[-1])
        print(f"[{mode}] persisted: {json.dumps(history)}", flush=True)
        for summary in summaries:
            summary["history"] = history
    return summaries


def report(summaries: list[dict]) -> str:
    lines = [
        "| mode | concurrency | runs/s | p50 ms | p95 ms | p99 ms | peak RSS MB | completed / errors |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for summary in summaries:
        median = summary["median"]
        web_rss = summary.get("patchbay_peak_rss_mb", 0)
        worker_rss = summary.get("worker_peak_rss_mb")
        rss_detail = (
            f"{web_rss + worker_rss:.0f} ({web_rss:.0f} web + {worker_rss:.0f} worker)"
            if worker_rss is not None
            else f"{web_rss:.0f}"
        )
        lines.append(
            f"| {summary['mode']} | {summary['concurrency']} | {median['runs_per_s']} | {median['p50_ms']} | "
            f"{median['p95_ms']} | {median['p99_ms']} | {rss_detail} | "
            f"{summary['completed_total']} / {summary['errors_total']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modes", default="embedded,celery", help="comma-separated: embedded, celery")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated concurrency levels")
    parser.add_argument("-n", "--requests", type=int, default=2000, help="measured runs per repetition")
    parser.add_argument("--reps", type=int, default=1, help="measured repetitions (median reported)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured runs before each level")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="cap per repetition")
    # Patchbay's own default (config/settings.py). 8 threads ran W no faster than 4 on this server (one
    # core's GIL decides) but kept more script processes forked: bench/README.md, "Session 3".
    parser.add_argument("--workers", type=int, default=4, help="PATCHBAY_WORKERS (concurrent runs)")
    parser.add_argument(
        "--script-workers", type=int, default=0, help="PATCHBAY_SCRIPT_POOL_SIZE (default: Patchbay's own)"
    )
    parser.add_argument(
        "--server",
        choices=("runserver", "daphne", "uvicorn"),
        default="runserver",
        help="how the web process is started (default: manage.py runserver --noreload, as `make run`)",
    )
    parser.add_argument(
        "--web-workers", type=int, default=1, help="server processes (with --server uvicorn only)"
    )
    parser.add_argument("--peers", type=Path, default=DEFAULT_PEERS, help="the peers' harness folder")
    parser.add_argument("--port", type=int, default=18765, help="port of the Patchbay server")
    parser.add_argument("--target-port", type=int, default=18080, help="port of the target API")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--postgres-database", default="patchbay_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--postgres-options", default="", help='PGOPTIONS for Patchbay, e.g. "-c synchronous_commit=off"'
    )
    parser.add_argument("--label-suffix", default="", help="appended to the mode in labels and the report")
    parser.add_argument("--json-out", type=Path, help="append one JSON line per level to this file")
    parser.add_argument("--internal-setup", metavar="TARGET", help=argparse.SUPPRESS)
    parser.add_argument("--internal-count", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.internal_setup:
        print(json.dumps(setup_flow(options.internal_setup)))
        return 0
    if options.internal_count:
        print(json.dumps(count_history()))
        return 0

    options.peers = options.peers.resolve()
    options.concurrency = [int(level) for level in options.concurrency.split(",") if level]
    options.target = f"http://127.0.0.1:{options.target_port}"
    for needed in ("load.py", "target_api.py"):
        if not (options.peers / needed).is_file():
            raise SystemExit(f"{options.peers / needed} is missing; pass the peers' folder with --peers")
    try:
        import aiohttp  # noqa: F401
        import psutil  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"{error.name} is missing: pip install -e '.[bench]'") from error
    for port in (options.port, options.target_port):
        if not port_is_free(port):
            raise SystemExit(f"port {port} is busy; stop what uses it or pick another port")

    # SIGTERM ends the benchmark like Ctrl-C does: through the finally below, which stops every process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    summaries: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="patchbay-bench-") as scratch_name:
        scratch = Path(scratch_name)
        processes = Processes(scratch)
        try:
            target = processes.start(
                "target",
                [sys.executable, str(options.peers / "target_api.py"), "--port", str(options.target_port)],
                dict(os.environ),
                cwd=options.peers,
            )
            wait_for_http(f"{options.target}/health")
            for mode in [m.strip() for m in options.modes.split(",") if m.strip()]:
                summaries.extend(bench_mode(mode, options, processes, scratch))
            processes.stop(target)
        finally:
            processes.stop_all()
    print(report(summaries))
    if options.json_out:
        with options.json_out.open("a") as out:
            for summary in summaries:
                out.write(json.dumps(summary) + "\n")
    return 0 if all(summary["errors_total"] == 0 for summary in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
