"""Script call benchmark (issues 3 and 11): a trivial script through the sandbox vs. the same code in-process,
and /healthz of a running server while it refuses a compile bomb.

    .venv/bin/python bench/script_calls.py [--calls 3000] [--seconds 5] [--threads 4] [--paced 200]
        [--gap 0.02] [--compile-bomb]

In one run it measures:
- sandbox, sequential: latency of `scripts_app.run_script` (since issue 11: a process forked from the
  zygote for every call, limits and seccomp armed, the request and answer over a socket pair,
  RestrictedPython execution in fresh globals, result validation) called back to back from one thread:
  p50, p99, calls/s;
- sandbox, concurrent: calls/s with `--threads` callers, each for a flow of its own, sharing the pool
  (PATCHBAY_SCRIPT_POOL_SIZE slots);
- sandbox, paced: latency of `--paced` calls made `--gap` seconds apart (each finds its process forked and
  ready: the call's own critical path, apart from the throughput limit of back-to-back calls);
- in-process floor: the same restricted code object's `handle(data)` called directly in this process;
- with `--compile-bomb`: a server (runserver, a fresh SQLite database in a temporary directory) is asked to
  deploy a script that makes CPython's compiler take gigabytes, while /healthz is fetched every 50 ms; it
  reports the deploy's answer and time and the /healthz latencies during it.

Goals (issue 11): p50 overhead (sandbox p50 - floor p50) at most 1.5 ms, at least 1,000 calls/s on two cores,
/healthz under 100 ms while the bomb is refused. No database is touched by the call measurements (the script
version is an unsaved model instance, so `last_invoked_at` is not written).
"""

from __future__ import annotations

import argparse
import logging
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


def paced(call: Callable[[], Any], calls: int, gap: float) -> list[float]:
    """Latencies in ms of `calls` calls made `gap` seconds apart: the latency of a call that finds its
    process forked and ready, apart from the throughput limit of back-to-back calls."""
    latencies = []
    for _ in range(calls):
        time.sleep(gap)
        before = time.perf_counter_ns()
        call()
        latencies.append((time.perf_counter_ns() - before) / 1e6)
    return latencies


def concurrent_rate(call: Callable[[int], Any], threads: int, seconds: float) -> float:
    counts = [0] * threads
    stop = threading.Event()

    def caller(index: int) -> None:
        while not stop.is_set():
            call(index)
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
    parser.add_argument("--paced", type=int, default=200, help="calls made --gap seconds apart")
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument(
        "--compile-bomb", action="store_true", help="also measure /healthz during a bomb deploy"
    )
    options = parser.parse_args()
    print(f"machine: {machine()}")

    version = ScriptVersion(
        script=Script(name="Bench"), number=1, code=TRIVIAL, checksum=code_checksum(TRIVIAL)
    )
    pool = get_pool()

    def through_pool(flow: int = 1) -> Any:
        return run_script(version, {**DATA, "meta": dict(DATA["meta"]), "flow": {**DATA["flow"], "id": flow}})

    handle = _in_process_handle()

    def in_process() -> Any:
        return handle({**DATA, "meta": dict(DATA["meta"])})

    for _ in range(300):  # warm up: workers started, code compiled and cached in each worker
        through_pool()
        in_process()

    cpu_before = _sandbox_cpu(pool)
    server_cpu_before = time.process_time()
    pool_latencies, pool_rate = measure(through_pool, options.calls)
    server_cpu = (time.process_time() - server_cpu_before) / options.calls * 1000
    sandbox_cpu = [
        (after - before) / options.calls * 1000
        for before, after in zip(cpu_before, _sandbox_cpu(pool), strict=True)
    ]
    floor_latencies, floor_rate = measure(in_process, options.calls)
    shared_rate = concurrent_rate(through_pool, options.threads, options.seconds)
    paced_latencies = paced(through_pool, options.paced, options.gap) if options.paced else []
    shutdown_pool()

    p50, p99 = percentile(pool_latencies, 0.5), percentile(pool_latencies, 0.99)
    floor_p50, floor_p99 = percentile(floor_latencies, 0.5), percentile(floor_latencies, 0.99)
    print(f"machine after: {machine()}")
    threads = f"{options.threads} threads for {options.seconds:g} s"
    print(f"pool size {pool.size}, {options.calls} calls each, {threads}")
    print(f"{'':34} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'calls/s':>10}")
    mean = statistics.fmean(pool_latencies)
    print(f"{'pool, one caller':34} {p50:9.3f} {p99:9.3f} {mean:9.3f} {pool_rate:10.0f}")
    print(f"{'pool, ' + str(options.threads) + ' callers':34} {'':9} {'':9} {'':9} {shared_rate:10.0f}")
    if paced_latencies:
        paced_p50, paced_p99 = percentile(paced_latencies, 0.5), percentile(paced_latencies, 0.99)
        label = f"pool, one call every {options.gap * 1000:g} ms"
        print(f"{label:34} {paced_p50:9.3f} {paced_p99:9.3f} {statistics.fmean(paced_latencies):9.3f}")
    print(
        f"{'in-process floor':34} {floor_p50:9.4f} {floor_p99:9.4f} "
        f"{statistics.fmean(floor_latencies):9.4f} {floor_rate:10.0f}"
    )
    best = max(pool_rate, shared_rate)
    if sandbox_cpu:
        print(
            f"CPU per call, one caller: server {server_cpu:.3f} ms, zygote {sandbox_cpu[0]:.3f} ms, "
            f"call processes {sandbox_cpu[1]:.3f} ms"
        )
        print(
            f"page faults per call, one caller: zygote {sandbox_cpu[2]:.0f}, "
            f"call processes {sandbox_cpu[3]:.0f}"
        )
    print(f"p50 overhead of the sandbox: {p50 - floor_p50:.3f} ms (goal <= 1.5 ms)")
    print(f"best calls/s: {best:.0f} (goal >= 1000)")
    if options.compile_bomb:
        compile_bomb_against_a_server()


def _sandbox_cpu(pool: Any) -> list[float]:
    """CPU seconds of the zygote itself and of its reaped call processes, then the page faults (minor) of
    each (empty before issue 11's pool)."""
    pid = getattr(pool, "zygote_pid", None)
    if pid is None:
        return []
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return [
        (int(fields[11]) + int(fields[12])) / ticks,
        (int(fields[13]) + int(fields[14])) / ticks,
        int(fields[7]) / 1000,
        int(fields[8]) / 1000,
    ]


def compile_bomb(levels: int = 18) -> str:
    """Nested try / finally blocks left by break, continue and return: CPython copies each finally body onto
    every way out of its try (1.7 KB of source; 16 levels already take 12 s and 470 MB to compile)."""
    lines = ["def handle(data):", " for item in data:"]
    lines += [" " * (depth + 2) + "try:" for depth in range(levels)]
    lines += [" " * (levels + 2) + text for text in ("if item: break", "if data: continue", "return data")]
    for depth in reversed(range(levels)):
        indent = " " * (depth + 2)
        lines += [indent + "finally:", indent + " if item: continue", indent + " item = data"]
    return "\n".join([*lines, " return data", ""])


SEED = """
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
user = User.objects.create_user(username="bench", password="bench-password-1")
user.groups.add(Group.objects.get(name="editor"))
print("TOKEN", Token.objects.create(user=user).key)
"""


def compile_bomb_against_a_server() -> None:
    import socket
    import subprocess
    import tempfile

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="patchbay-script-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHBAY_", "PYTEST_", "DJANGO_"))}
        env.update(
            {
                "PATCHBAY_VAR_DIR": tmp,
                "PATCHBAY_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "PATCHBAY_LOG_LEVEL": "WARNING",
            }
        )
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True)
        seeded = subprocess.run(
            [*manage, "shell", "-c", SEED], env=env, cwd=ROOT, check=True, capture_output=True, text=True
        )
        token = next(line.split()[1] for line in seeded.stdout.splitlines() if line.startswith("TOKEN "))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=5).status_code in (200, 503):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("The server did not start.")
                time.sleep(0.3)
            headers = {"Authorization": f"Token {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=600) as api:
                script = api.post("/api/scripts/", json={"name": "Bomb", "code": compile_bomb()}).json()
                for _ in range(5):  # warm: the sandbox is up and /healthz has run once
                    api.get("/healthz")
                answer: dict[str, Any] = {}

                def deploy() -> None:
                    started = time.perf_counter()
                    response = api.post(f"/api/scripts/{script['id']}/deploy/")
                    answer.update(status=response.status_code, body=response.json())
                    answer["seconds"] = time.perf_counter() - started

                thread = threading.Thread(target=deploy)
                thread.start()
                latencies = []
                with httpx.Client(base_url=url, timeout=60) as health:
                    while thread.is_alive():
                        started = time.perf_counter()
                        health.get("/healthz")
                        latencies.append((time.perf_counter() - started) * 1000)
                        time.sleep(0.05)
                thread.join()
        finally:
            server.terminate()
            server.wait(timeout=15)
    errors = answer.get("body", {}).get("errors") or [{}]
    print(
        f"compile bomb deploy: HTTP {answer.get('status')} after {answer.get('seconds', 0):.1f} s: "
        f"{errors[0].get('message')}"
    )
    if latencies:
        print(
            f"/healthz during it: {len(latencies)} requests, p50 {percentile(latencies, 0.5):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms (goal < 100 ms)"
        )


def _in_process_handle() -> Callable[[dict[str, Any]], Any]:
    namespace = script_globals(LogCollector(1024 * 1024))
    exec(compile_script(TRIVIAL), namespace)  # the same restricted code the workers run
    return namespace["handle"]


if __name__ == "__main__":
    main()
