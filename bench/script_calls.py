"""Script call benchmark (issue 3): a trivial script through the sandbox pool vs. the same code in-process.

    .venv/bin/python bench/script_calls.py [--calls 3000] [--seconds 5] [--threads 4]

In one run it measures:
- pool, sequential: latency of `scripts_app.run_script` (JSON over a socket to a worker process,
  RestrictedPython execution in fresh globals, result validation) called back to back from one thread:
  p50, p99, calls/s;
- pool, concurrent: calls/s with `--threads` callers sharing the pool (PATCHBAY_SCRIPT_POOL_SIZE workers);
- in-process floor: the same restricted code object's `handle(data)` called directly in this process.

Goal: p50 overhead (pool p50 - floor p50) at most 1 ms, at least 1,000 calls/s. No database is touched (the
script version is an unsaved model instance, so `last_invoked_at` is not written).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from scripts_app import run_script  # noqa: E402
from scripts_app.models import Script, ScriptVersion, code_checksum  # noqa: E402
from scripts_app.sandbox.policy import LogCollector, compile_script, script_globals  # noqa: E402
from scripts_app.sandbox.pool import get_pool, shutdown_pool  # noqa: E402

TRIVIAL = 'def handle(data):\n    data["meta"]["seen"] = "yes"\n    return data\n'
DATA = {
    "payload": '{"order": 1}',
    "variables": {"region": "eu"},
    "meta": {"source": "bench"},
    "flow": {"id": 1, "name": "Bench", "run_id": 1, "variables": {}},
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(call: Callable[[], Any], calls: int) -> tuple[list[float], float]:
    """Latencies in ms of `calls` back-to-back calls, and the calls per second of the whole loop."""
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        before = time.perf_counter_ns()
        call()
        latencies.append((time.perf_counter_ns() - before) / 1e6)
    return latencies, calls / (time.perf_counter() - started)


def concurrent_rate(call: Callable[[], Any], threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = threading.Event()

    def caller(index: int) -> None:
        while not stop.is_set():
            call()
            counts[index] += 1

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"nproc {os.cpu_count()}, {model}, load average {load}, Python {sys.version.split()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args()

    version = ScriptVersion(
        script=Script(name="Bench"), number=1, code=TRIVIAL, checksum=code_checksum(TRIVIAL)
    )
    pool = get_pool()

    def through_pool() -> Any:
        return run_script(version, {**DATA, "meta": dict(DATA["meta"])})

    handle = _in_process_handle()

    def in_process() -> Any:
        return handle({**DATA, "meta": dict(DATA["meta"])})

    for _ in range(300):  # warm up: workers started, code compiled and cached in each worker
        through_pool()
        in_process()

    pool_latencies, pool_rate = measure(through_pool, options.calls)
    floor_latencies, floor_rate = measure(in_process, options.calls)
    shared_rate = concurrent_rate(through_pool, options.threads, options.seconds)
    shutdown_pool()

    p50, p99 = percentile(pool_latencies, 0.5), percentile(pool_latencies, 0.99)
    floor_p50, floor_p99 = percentile(floor_latencies, 0.5), percentile(floor_latencies, 0.99)
    print(f"machine: {machine()}")
    threads = f"{options.threads} threads for {options.seconds:g} s"
    print(f"pool size {pool.size}, {options.calls} calls each, {threads}")
    print(f"{'':34} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'calls/s':>10}")
    mean = statistics.fmean(pool_latencies)
    print(f"{'pool, one caller':34} {p50:9.3f} {p99:9.3f} {mean:9.3f} {pool_rate:10.0f}")
    print(f"{'pool, ' + str(options.threads) + ' callers':34} {'':9} {'':9} {'':9} {shared_rate:10.0f}")
    print(
        f"{'in-process floor':34} {floor_p50:9.4f} {floor_p99:9.4f} "
        f"{statistics.fmean(floor_latencies):9.4f} {floor_rate:10.0f}"
    )
    best = max(pool_rate, shared_rate)
    print(f"p50 overhead of the pool: {p50 - floor_p50:.3f} ms (goal <= 1 ms)")
    print(f"best calls/s: {best:.0f} (goal >= 1000)")


def _in_process_handle() -> Callable[[dict[str, Any]], Any]:
    namespace = script_globals(LogCollector(1024 * 1024))
    exec(compile_script(TRIVIAL), namespace)  # the same restricted code the workers run
    return namespace["handle"]


if __name__ == "__main__":
    main()
