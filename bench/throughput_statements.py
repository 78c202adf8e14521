#!/usr/bin/env python3
"""Database statements, transactions and CPU per run of the reference flow W, counted in one process.

Sets Patchbay up on a fresh SQLite database in a scratch folder, deploys W (bench/throughput.py's set-up)
against a small local HTTP server that answers `/orders/N` like the peers' target API, then for each run
does what the webhook path and an executor thread do, in this thread:

    webhook lookup (runs.triggers.webhook._load_target) -> enqueue -> claim_next_run -> execute the run
    -> read the final state as the webhook reply does (runs.triggers.webhook._run_state)

and counts every statement through `connection.execute_wrapper`: by kind, how many ran inside a
transaction, how many transactions were opened (BEGIN) and how many writes ran on their own in autocommit
mode (each one an implicit transaction). It also reports the CPU time of this process per run and, with
`--profile FILE`, writes a cProfile of the measured runs. The script steps run in the sandbox worker
processes, whose CPU is not counted here.

    .venv/bin/python bench/throughput_statements.py [-n 50] [--profile var/w.prof]

It only uses entry points that exist before and after the engine's journal, so it can be run on older
commits too.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def order(order_id: int) -> dict[str, Any]:
    """A deterministic order of about 1 KB, shaped like the peers' target API's."""
    items = [
        {
            "sku": f"SKU-{order_id}-{n}",
            "name": f"Item {n}",
            "qty": 1 + (order_id + n) % 3,
            "unit_price_cents": 1999 + n,
        }
        for n in range(4)
    ]
    return {
        "id": order_id,
        "status": "packed",
        "currency": "GBP",
        "customer": {
            "name": "Grace Knuth",
            "email": f"grace.knuth{order_id}@example.test",
            "phone": "+44 20 0000",
        },
        "shipping": {
            "method": "standard",
            "cost_cents": 495,
            "address": {"line1": "1 Lane", "city": "London"},
        },
        "items": items,
        "notes": "x" * 200,
    }


class Orders(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle holds the body back until the
    # client's delayed ACK (40 ms) on a kept-alive connection. Servers like uvicorn (the peers' target API)
    # set it.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        body = json.dumps(order(int(self.path.rstrip("/").rsplit("/", 1)[-1]))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StatementCounter:
    """An execute wrapper that counts statements by kind and transactions."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.kinds: Counter[str] = Counter()
        self.in_transaction = 0
        self.autocommit_writes = 0
        self.log: list[str] | None = None

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        kind = sql.lstrip().split(None, 1)[0].upper()
        if self.log is not None:
            self.log.append(("  [tx] " if self.connection.in_atomic_block else "  ") + sql[:150])
        if kind == "BEGIN":
            self.kinds["BEGIN"] += 1
        else:
            self.kinds[kind] += 1
            if self.connection.in_atomic_block:
                self.in_transaction += 1
            elif kind in ("INSERT", "UPDATE", "DELETE"):
                self.autocommit_writes += 1
        return execute(sql, params, many, context)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of the measured runs to this file")
    parser.add_argument("--show", action="store_true", help="print the statements of the last run")
    options = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="patchbay-statements-"))
    (scratch / "static").mkdir()
    os.environ.update(
        PATCHBAY_VAR_DIR=str(scratch),
        PATCHBAY_DATABASE_URL=f"sqlite:///{scratch / 'bench.sqlite3'}",
        PATCHBAY_SECRET_KEY="bench-only-secret-key-" + "x" * 30,
        PATCHBAY_DEBUG="false",
        PATCHBAY_LOG_LEVEL="WARNING",
        PATCHBAY_EXECUTOR="embedded",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}"

    import throughput

    from runs import engine, services
    from runs.engine import execute_run

    execute_claimed_run = getattr(engine, "execute_claimed_run", None)
    from runs.models import LogLine, Payload, Run, Step
    from runs.triggers import webhook

    key = throughput.setup_flow(target)["webhook_path"].strip("/").rsplit("/", 1)[-1]

    # CPU time of this thread (not the upstream server's) per phase of a run, in seconds.
    phases: Counter[str] = Counter()
    clock = time.thread_time

    def one_run(n: int) -> None:
        start = clock()
        target_flow = webhook._load_target(key)
        payload = json.dumps({"order_id": n, "status": "new"})
        extra = [target_flow.flow_version] if hasattr(target_flow, "flow_version") else []
        run_id = webhook._enqueue(target_flow.flow, payload, {"http_method": "POST"}, *extra)
        enqueued = clock()
        run = services.claim_next_run(worker_id="bench")
        assert run is not None and run.pk == run_id
        claimed = clock()
        if execute_claimed_run is not None:
            # What the embedded executor and the Celery task do: no second read of the claimed run.
            execute_claimed_run(run, worker_id="bench")
        else:  # commits before execute_claimed_run existed
            execute_run(run.pk, worker_id="bench")
        executed = clock()
        state = webhook._run_state(run_id)
        assert state is not None and state["status"] == Run.Status.SUCCEEDED, state
        phases["webhook lookup + enqueue"] += enqueued - start
        phases["claim"] += claimed - enqueued
        phases["execute"] += executed - claimed
        phases["reply's read"] += clock() - executed

    for n in range(options.warmup):
        one_run(n)
    phases.clear()
    counter = StatementCounter(connection)
    # Timed by this thread's CPU clock: waiting (the upstream, the sandbox, the GIL) is not counted.
    profiler = cProfile.Profile(time.thread_time) if options.profile else None
    cpu = time.process_time()
    wall = time.perf_counter()
    with connection.execute_wrapper(counter):
        if profiler is not None:
            profiler.enable()
        for n in range(options.warmup, options.warmup + options.runs):
            if options.show and n == options.warmup + options.runs - 1:
                counter.log = []
            one_run(n)
        if profiler is not None:
            profiler.disable()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    if profiler is not None:
        profiler.dump_stats(options.profile)

    step_ms: dict[str, list[float]] = {}
    for shape_type, started, finished in Step.objects.values_list("shape_type", "started_at", "finished_at"):
        step_ms.setdefault(shape_type, []).append((finished - started).total_seconds() * 1000)
    runs = options.runs
    statements = sum(count for kind, count in counter.kinds.items() if kind != "BEGIN")
    result = {
        "runs": runs,
        "statements_per_run": round(statements / runs, 2),
        "by_kind_per_run": {kind: round(count / runs, 2) for kind, count in sorted(counter.kinds.items())},
        "transactions_per_run": round(counter.kinds["BEGIN"] / runs, 2),
        "autocommit_writes_per_run": round(counter.autocommit_writes / runs, 2),
        "cpu_ms_per_run_this_process": round(cpu * 1000 / runs, 2),
        # The thread that does the run's work, without the upstream server's thread and the sandbox's IPC
        # threads: what the webhook path and an executor thread cost.
        "cpu_ms_per_run_this_thread": round(sum(phases.values()) * 1000 / runs, 2),
        "thread_cpu_ms_per_run_by_phase": {name: round(t * 1000 / runs, 2) for name, t in phases.items()},
        "wall_ms_per_run": round(wall * 1000 / runs, 2),
        "median_step_ms": {kind: round(sorted(ms)[len(ms) // 2], 2) for kind, ms in step_ms.items()},
        "stored_per_run": {
            "steps": Step.objects.count() / Run.objects.count(),
            "payloads": Payload.objects.count() / Run.objects.count(),
            "log_lines": LogLine.objects.count() / Run.objects.count(),
        },
    }
    if counter.log is not None:
        print("\n".join(counter.log))
    print(json.dumps(result, indent=2))
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
