#!/usr/bin/env python3
"""Scaling benchmark (issue 7): reference flow W in scale mode with 1, 2 and 4 Celery worker processes.

Scale mode is what `make run-scale` starts: one uvicorn web process with PATCHBAY_EXECUTOR=celery, N
`celery -A config worker` processes and PostgreSQL + Redis on 127.0.0.1. For each upstream (the peers'
target API answering at once, and the same API delaying every call by 100 ms) and each worker count, the
peers' load driver (load.py, every answer checked) posts the same load to W's webhook, and the runs per
second are reported: how throughput grows with worker processes, and how scale mode compares with the
embedded mode (one server process, SQLite, worker threads; measured by bench/throughput.py's own code).

Each worker process executes `--slots` runs at a time (Celery thread pool; default 1, so adding processes
is the only way to add capacity, as in the Windmill figures the issue cites). The load driver keeps
`--concurrency` requests in flight (default 16, more than the largest worker count has slots).

Usage (from the repository; needs `pip install -e ".[bench]"`):

    python bench/throughput_scale.py                          # workers 1,2,4 x upstream fast,100 ms
    python bench/throughput_scale.py --workers 1,2 --upstreams 100 -n 300
    python bench/throughput_scale.py --no-embedded --json-out scale.jsonl

Every process it starts (target API, web server, workers) is stopped by PID when it ends, also on Ctrl-C or
SIGTERM; the PostgreSQL database it creates is dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import throughput  # bench/throughput.py, same folder
from throughput import REPO, Processes, port_is_free, postgres_database, run_django, wait_for_http


def base_env(options: argparse.Namespace, var_dir: Path) -> dict[str, str]:
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
        PATCHBAY_EXECUTOR="celery",
        PATCHBAY_REDIS_URL=options.redis_url,
        PATCHBAY_CELERY_QUEUE=f"patchbay-bench-scale-{os.getpid()}",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if options.script_workers:
        env["PATCHBAY_SCRIPT_POOL_SIZE"] = str(options.script_workers)
    return env


def start_target(processes: Processes, options: argparse.Namespace, delay_ms: int) -> subprocess.Popen:
    env = dict(os.environ)
    env["TARGET_DELAY_MS"] = str(delay_ms)
    target = processes.start(
        f"target-{delay_ms}ms",
        [sys.executable, str(options.peers / "target_api.py"), "--port", str(options.target_port)],
        env,
        cwd=options.peers,
    )
    wait_for_http(f"{options.target}/health")
    return target


def start_workers(
    processes: Processes, env: dict[str, str], count: int, slots: int
) -> list[subprocess.Popen]:
    workers = []
    for index in range(count):
        worker_env = {**env, "PATCHBAY_WORKERS": str(slots)}
        workers.append(
            processes.start(
                f"worker-{count}-{index + 1}",
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=threads",
                    f"--concurrency={slots}",
                    "-n",
                    f"bench{index + 1}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=WARNING",
                ],
                worker_env,
            )
        )
    return workers


def drive(options: argparse.Namespace, url: str, label: str, results: Path, monitors: list[str]) -> dict:
    """One load-driver batch (warm-up, then the measured repetitions); returns its summary line."""
    before = results.read_text().splitlines() if results.exists() else []
    driver = [
        sys.executable, str(options.peers / "load.py"), url, "-n", str(options.requests),
        "-c", str(options.concurrency), "--reps", str(options.reps), "--warmup", str(options.warmup),
        "--target", options.target, "--label", label, "--json-out", str(results),
        "--max-seconds", str(options.max_seconds), *monitors,
    ]  # fmt: skip
    subprocess.run(driver, cwd=REPO, check=False)
    after = results.read_text().splitlines() if results.exists() else []
    if len(after) <= len(before):
        raise SystemExit(f"the load driver wrote no summary for {label}")
    return json.loads(after[-1])


def bench_scale(options: argparse.Namespace, processes: Processes, scratch: Path) -> list[dict[str, Any]]:
    var_dir = scratch / "scale"
    (var_dir / "static").mkdir(parents=True, exist_ok=True)
    env = base_env(options, var_dir)
    summaries: list[dict[str, Any]] = []
    results = scratch / "scale.jsonl"
    with postgres_database(options.postgres_url, options.postgres_database) as database_url:
        env["PATCHBAY_DATABASE_URL"] = database_url
        run_django(env, "manage.py", "migrate", "--noinput", "-v", "0")
        setup = json.loads(
            run_django(env, throughput.__file__, "--internal-setup", options.target).strip().splitlines()[-1]
        )
        url = f"http://127.0.0.1:{options.port}{setup['webhook_path']}"
        web = processes.start(
            f"scale-{options.server}",
            throughput.server_command(options.server, options.port),
            {**env, "PATCHBAY_WORKERS": str(options.slots)},
        )
        # Not /healthz: with no worker started yet it waits for a Celery ping; any answer (401) will do.
        wait_for_http(f"http://127.0.0.1:{options.port}/api/me/")
        try:
            for delay_ms in options.upstreams:
                target = start_target(processes, options, delay_ms)
                for count in options.workers:
                    workers = start_workers(processes, env, count, options.slots)
                    monitors = ["--monitor", f"web={web.pid}"]
                    for index, worker in enumerate(workers, start=1):
                        monitors += ["--monitor", f"worker{index}={worker.pid}"]
                    label = f"scale-{count}w-{delay_ms}ms"
                    summary = drive(options, url, label, results, monitors)
                    summaries.append(
                        {"mode": "scale", "workers": count, "slots": options.slots, "upstream_ms": delay_ms}
                        | summary
                    )
                    for worker in workers:
                        processes.stop(worker)
                processes.stop(target)
        finally:
            processes.stop(web)
        history = json.loads(
            run_django(env, throughput.__file__, "--internal-count").strip().splitlines()[-1]
        )
    print(f"[scale] persisted: {json.dumps(history)}", flush=True)
    for summary in summaries:
        summary["history"] = history
    return summaries


def bench_embedded(options: argparse.Namespace, processes: Processes, scratch: Path) -> list[dict[str, Any]]:
    """The embedded mode on the fast upstream, through bench/throughput.py's own `bench_mode`."""
    target = start_target(processes, options, 0)
    embedded_options = argparse.Namespace(
        workers=options.embedded_workers,
        script_workers=options.script_workers,
        server=options.server,
        port=options.port,
        requests=options.requests,
        reps=options.reps,
        warmup=options.warmup,
        max_seconds=options.max_seconds,
        concurrency=[options.concurrency],
        peers=options.peers,
        target=options.target,
        postgres_url=options.postgres_url,
        postgres_database=options.postgres_database,
        redis_url=options.redis_url,
        postgres_options=None,
        label_suffix="",
    )
    try:
        summaries = throughput.bench_mode("embedded", embedded_options, processes, scratch)
    finally:
        processes.stop(target)
    return [{"workers": None, "slots": options.embedded_workers, "upstream_ms": 0} | s for s in summaries]


def report(summaries: list[dict[str, Any]]) -> str:
    lines = [
        "| mode | upstream | worker processes x slots | runs/s | vs 1 worker | p50 ms | p95 ms "
        "| CPU % web / workers | completed / errors |",
        "|---|---:|---|---:|---:|---:|---:|---|---|",
    ]
    baseline = {
        s["upstream_ms"]: s["median"]["runs_per_s"]
        for s in summaries
        if s["mode"] == "scale" and s["workers"] == 1
    }
    for s in summaries:
        median = s["median"]
        base = baseline.get(s["upstream_ms"])
        growth = f"{median['runs_per_s'] / base:.2f}x" if s["mode"] == "scale" and base else ""
        shape = (
            f"{s['workers']} x {s['slots']}" if s["mode"] == "scale" else f"1 process, {s['slots']} threads"
        )
        web_cpu = median.get("web_cpu_pct", median.get("patchbay_cpu_pct", ""))
        workers_cpu = sum(value for key, value in median.items() if key.startswith("worker") and "cpu" in key)
        cpu = f"{web_cpu} / {workers_cpu:.0f}" if s["mode"] == "scale" else f"{web_cpu}"
        lines.append(
            f"| {s['mode']} | {s['upstream_ms']} ms | {shape} | {median['runs_per_s']} | {growth} | "
            f"{median['p50_ms']} | {median['p95_ms']} | {cpu} | "
            f"{s['completed_total']} / {s['errors_total']} |"
        )
    embedded = [s["median"]["runs_per_s"] for s in summaries if s["mode"] == "embedded"]
    fast_scale = [
        s["median"]["runs_per_s"] for s in summaries if s["mode"] == "scale" and s["upstream_ms"] == 0
    ]
    if embedded and fast_scale and embedded[0]:
        lines.append("")
        lines.append(
            f"Fast upstream: best scale mode {max(fast_scale)} runs/s = "
            f"{max(fast_scale) / embedded[0]:.0%} of embedded {embedded[0]} runs/s."
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2,4", help="comma-separated Celery worker process counts")
    parser.add_argument("--slots", type=int, default=1, help="runs at a time per worker process (threads)")
    parser.add_argument("--upstreams", default="0,100", help="comma-separated upstream delays in ms")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (load driver)")
    parser.add_argument("-n", "--requests", type=int, default=200, help="measured runs per repetition")
    parser.add_argument("--reps", type=int, default=1, help="measured repetitions (median reported)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured runs before each measurement")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="cap per repetition")
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded-mode comparison")
    parser.add_argument("--embedded-workers", type=int, default=4, help="embedded mode's PATCHBAY_WORKERS")
    parser.add_argument(
        "--script-workers", type=int, default=0, help="PATCHBAY_SCRIPT_POOL_SIZE (default: Patchbay's own)"
    )
    parser.add_argument(
        "--server",
        choices=("runserver", "daphne", "uvicorn"),
        default="uvicorn",
        help="how the web process is started (default: uvicorn, the production command of docs/deploy.md)",
    )
    parser.add_argument("--peers", type=Path, default=throughput.DEFAULT_PEERS, help="the peers' folder")
    parser.add_argument("--port", type=int, default=18766, help="port of the Patchbay server")
    parser.add_argument("--target-port", type=int, default=18081, help="port of the target API")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--postgres-database", default="patchbay_bench_scale")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json-out", type=Path, help="append one JSON line per measurement to this file")
    options = parser.parse_args()

    options.peers = options.peers.resolve()
    options.workers = [int(n) for n in options.workers.split(",") if n]
    options.upstreams = [int(ms) for ms in options.upstreams.split(",") if ms]
    options.target = f"http://127.0.0.1:{options.target_port}"
    for needed in ("load.py", "target_api.py"):
        if not (options.peers / needed).is_file():
            raise SystemExit(f"{options.peers / needed} is missing; pass the peers' folder with --peers")
    for port in (options.port, options.target_port):
        if not port_is_free(port):
            raise SystemExit(f"port {port} is busy; stop what uses it or pick another port")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    summaries: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="patchbay-bench-scale-") as scratch_name:
        scratch = Path(scratch_name)
        processes = Processes(scratch)
        try:
            if not options.no_embedded:
                summaries.extend(bench_embedded(options, processes, scratch))
            summaries.extend(bench_scale(options, processes, scratch))
        finally:
            processes.stop_all()
            with contextlib.suppress(FileNotFoundError):
                for log in sorted(scratch.glob("*.log")):
                    tail = log.read_text(errors="replace").splitlines()[-3:]
                    if any("Error" in line or "Traceback" in line for line in tail):
                        print(f"--- {log.name} (last lines)\n" + "\n".join(tail), flush=True)
    print(report(summaries))
    if options.json_out:
        with options.json_out.open("a") as out:
            for summary in summaries:
                out.write(json.dumps(summary) + "\n")
    return 0 if all(summary["errors_total"] == 0 for summary in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
