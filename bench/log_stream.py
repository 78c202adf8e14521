#!/usr/bin/env python3
"""Live run log streaming: a run writing N log lines per second, watched by M websocket clients.

What it does, on a fresh SQLite database in a temporary folder:

1. migrates, creates a viewer with an API token and a running run;
2. starts a real server process, `daphne config.asgi:application` on 127.0.0.1 and a free port, with the
   channels-redis layer (PATCHBAY_REDIS_URL), as a web process of the scaled setup;
3. connects the websocket clients to /ws/runs/{id}/ (token auth, allowed origin), spread over a few client
   processes so that reading does not compete with the writer for one interpreter;
4. writes the lines from this process through `runs.logs.write_log` (one transaction per line, the event
   sent after commit through runs.events, as an executor or Celery worker does), paced at --rate, noting
   when each line's transaction committed; then ends the run with a `run.status` event;
5. reports, over every (line, client) pair: p50 / p99 / max latency from commit to arrival, the lines per
   second delivered, and whether any line was dropped, duplicated or out of order;
6. stops the server and the client processes by PID (also on Ctrl-C) and removes the folder.

Usage (from the repository; needs Redis, and aiohttp from `pip install -e ".[bench]"`):

    python bench/log_stream.py                              # 50 clients, 1,000 lines/s for 5 s
    python bench/log_stream.py --batch                      # clients take `run.logs` frames (?batch=1)
    python bench/log_stream.py --clients 10 --rate 200 --seconds 3 --redis redis://127.0.0.1:6379/1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TERMINAL = {"succeeded", "failed", "stopped", "partial_success"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, server: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"The server exited with code {server.returncode} before listening.")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"The server did not listen on port {port} within {seconds:.0f} s.")


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


# --- client processes ----------------------------------------------------------------------------------


async def _watch(url: str, headers: dict[str, str], ready: Any, results: list[Any]) -> None:
    """Collect (seq, arrival time) of every line until the final `run.status`; note if the socket closed
    before it (then the missing lines count as dropped)."""
    import aiohttp

    arrivals: list[tuple[int, float]] = []
    ended = "closed before the final status"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers=headers, max_msg_size=0) as ws,
    ):
        snapshot = json.loads((await ws.receive()).data)
        assert snapshot["type"] == "run.snapshot", snapshot
        ready.release()
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                ended = f"socket message {message.type.name} {message.data!r} before the final status"
                break
            now = time.time()
            event = json.loads(message.data)
            if event["type"] == "run.log":
                arrivals.append((event["seq"], now))
            elif event["type"] == "run.logs":
                arrivals.extend((line["seq"], now) for line in event["lines"])
            elif event["type"] == "run.status" and event["status"] in TERMINAL:
                ended = "final status"
                break
    results.append((arrivals, ended))


def client_process(url: str, headers: dict[str, str], count: int, ready: Any, output: Any) -> None:
    async def main() -> list[Any]:
        results: list[Any] = []
        await asyncio.gather(*(_watch(url, headers, ready, results) for _ in range(count)))
        return results

    output.put(asyncio.run(main()))


# --- the benchmark -------------------------------------------------------------------------------------


def set_up_database() -> tuple[int, str]:
    """Migrate; create a viewer with a token and a running run. Returns (run id, token)."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from designer.models import Flow, FlowVersion
    from runs.models import Run

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(username="bench-viewer", password=uuid.uuid4().hex)
    user.groups.add(Group.objects.get(name="viewer"))
    token = Token.objects.create(user=user).key
    flow = Flow.objects.create(name="Log stream benchmark")
    version = FlowVersion.objects.create(flow=flow, number=1, status=FlowVersion.Status.DEPLOYED)
    run = Run.objects.create(
        flow=flow,
        flow_version=version,
        trigger=Run.Trigger.MANUAL,
        status=Run.Status.RUNNING,
        available_at=timezone.now(),
        started_at=timezone.now(),
    )
    return run.pk, token


def write_lines(run_id: int, rate: float, seconds: float) -> dict[int, float]:
    """Write rate * seconds lines, paced; returns seq -> time its transaction committed."""
    from runs.events import emit_run_event, flush_run_events
    from runs.logs import write_log
    from runs.models import Run

    run = Run.objects.get(pk=run_id)
    committed: dict[int, float] = {}
    total = int(rate * seconds)
    start = time.perf_counter()
    for number in range(total):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        line = write_log(run=run, level="info", message=f"benchmark line {number + 1} " + "x" * 60)
        committed[line.seq] = time.time()
    Run.objects.filter(pk=run_id).update(status=Run.Status.SUCCEEDED)
    emit_run_event(run_id, {"type": "run.status", "status": "succeeded"})
    flush_run_events(timeout=30)
    return committed


def report(
    committed: dict[int, float],
    results: list[tuple[list[tuple[int, float]], str]],
    clients: int,
    elapsed: float,
) -> dict[str, Any]:
    expected = sorted(committed)
    endings = [ended for _, ended in results]
    latencies: list[float] = []
    dropped = duplicated = out_of_order = 0
    first_commit = min(committed.values())
    last_arrival = first_commit
    for arrivals, _ in results:
        seqs = [seq for seq, _ in arrivals if seq in committed]
        unique = set(seqs)
        dropped += len(set(expected) - unique)
        duplicated += len(seqs) - len(unique)
        out_of_order += sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
        for seq, arrived in arrivals:
            if seq in committed:
                latencies.append((arrived - committed[seq]) * 1000)
                last_arrival = max(last_arrival, arrived)
    latencies.sort()
    delivered = len(latencies)
    return {
        "clients": clients,
        "clients_finished": len(results),
        "clients_ended_early": sorted({ended for ended in endings if ended != "final status"}),
        "lines_written": len(expected),
        "write_rate_achieved": round(len(expected) / elapsed, 1),
        "deliveries": delivered,
        "lines_per_second_delivered": round(delivered / max(last_arrival - first_commit, 1e-9), 1),
        "latency_ms_p50": round(percentile(latencies, 0.50), 2),
        "latency_ms_p99": round(percentile(latencies, 0.99), 2),
        "latency_ms_max": round(latencies[-1], 2) if latencies else None,
        "latency_ms_mean": round(statistics.fmean(latencies), 2) if latencies else None,
        "dropped": dropped,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
    }


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--client-processes", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000.0, help="log lines per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--redis", default=os.environ.get("PATCHBAY_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument(
        "--batch", action="store_true", help="clients connect with ?batch=1 (one frame per burst of lines)"
    )
    parser.add_argument("--server-log", help="copy the server's output to this file at the end")
    parser.add_argument("--json-out", help="append the result as one JSON line to this file")
    options = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="patchbay-log-stream-"))
    environment = {
        **{k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "PATCHBAY_TEST_ON_POSTGRES"}},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PATCHBAY_VAR_DIR": str(folder),
        "PATCHBAY_DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "PATCHBAY_REDIS_URL": options.redis,
        "PATCHBAY_DEBUG": "0",
        "PATCHBAY_LOG_LEVEL": "WARNING",
    }
    os.environ.update(environment)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()

    server: subprocess.Popen | None = None
    clients: list[multiprocessing.Process] = []
    try:
        run_id, token = set_up_database()
        port = free_port()
        server_log = open(folder / "server.log", "w+b")  # noqa: SIM115 (closed with the folder)
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=REPO,
            env=environment,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(port, server)
        print(f"server pid {server.pid} on 127.0.0.1:{port}", file=sys.stderr, flush=True)

        context = multiprocessing.get_context("spawn")
        ready = context.Semaphore(0)
        output = context.Queue()
        url = f"ws://127.0.0.1:{port}/ws/runs/{run_id}/" + ("?batch=1" if options.batch else "")
        headers = {"Origin": f"http://127.0.0.1:{port}", "Authorization": f"Token {token}"}
        per_process = [options.clients // options.client_processes] * options.client_processes
        for index in range(options.clients % options.client_processes):
            per_process[index] += 1
        for count in (count for count in per_process if count):
            process = context.Process(target=client_process, args=(url, headers, count, ready, output))
            process.start()
            clients.append(process)
        for _ in range(options.clients):
            if not ready.acquire(timeout=60):
                raise SystemExit("Not every websocket client connected within 60 s.")

        started = time.perf_counter()
        committed = write_lines(run_id, options.rate, options.seconds)
        elapsed = time.perf_counter() - started

        results: list[tuple[list[tuple[int, float]], str]] = []
        for _ in clients:
            results.extend(output.get(timeout=120))
        summary = report(committed, results, options.clients, elapsed)
        summary["machine"] = machine()
        summary["rate_target"] = options.rate
        summary["batch_frames"] = options.batch
        print(json.dumps(summary, indent=2))
        if options.json_out:
            with open(options.json_out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(summary) + "\n")
    finally:
        for process in clients:
            if process.is_alive():
                process.terminate()
            process.join(timeout=10)
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        if options.server_log and (folder / "server.log").exists():
            shutil.copy(folder / "server.log", options.server_log)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
