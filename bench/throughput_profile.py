#!/usr/bin/env python3
"""Where the server's CPU goes: a py-spy profile (raw, collapsed stacks) summarised by part of Patchbay.

Record the web process while bench/throughput.py drives it, e.g.

    py-spy record --pid PID --duration 20 --rate 200 --format raw --output var/web.txt
    .venv/bin/python bench/throughput_profile.py var/web.txt

Each sample is counted once, for the first category (in the order below) whose marker appears in its stack;
py-spy records only threads that are running (not waiting), so the shares are of busy CPU time.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# (category, markers in the stack); the first category whose marker appears wins.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("custom script sandbox (IPC to the script process)", ("scripts_app/",)),
    ("outbound HTTP (httpx, httpcore)", ("httpx/", "httpcore/")),
    (
        "SQL execution (sqlite3 / psycopg)",
        ("sqlite3/dbapi2", "(execute (sqlite3", "psycopg/", "execute (django/db/backends"),
    ),
    ("ORM: building queries and model instances", ("django/db/",)),
    ("run events (channel layer)", ("runs/events.py", "channels/")),
    ("webhook request handling", ("runs/triggers/webhook.py", "runs/triggers/waiters.py")),
    (
        "engine (runner, shapes, templating, lifecycle)",
        ("runs/engine/", "runs/lifecycle.py", "runs/templating.py", "runs/logs.py", "runs/payloads.py"),
    ),
    (
        "ASGI server and event loop (HTTP parsing, asyncio)",
        ("uvicorn/", "daphne/", "twisted/", "asyncio/", "httptools", "uvloop"),
    ),
    ("Django request handling", ("django/",)),
]


def categorise(stack: str) -> str:
    for name, markers in CATEGORIES:
        if any(marker in stack for marker in markers):
            return name
    return "other (interpreter, JSON, threads)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("raw", type=Path, help="py-spy --format raw output")
    options = parser.parse_args()
    counts: Counter[str] = Counter()
    total = 0
    for line in options.raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        counts[categorise(stack)] += int(number)
        total += int(number)
    if not total:
        print("no samples")
        return 1
    print(f"| part | share of busy samples ({total} samples) |\n|---|---:|")
    for name, count in counts.most_common():
        print(f"| {name} | {100 * count / total:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
