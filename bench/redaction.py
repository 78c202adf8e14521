"""What redaction costs: `Redactor.text` over payloads of several sizes with one connector's secrets.

`.venv/bin/python bench/redaction.py [--repeat 200]` prints the median microseconds per call for a payload
without any secret (the common case: every stored copy is scanned) and one with a secret in it, for 1 KiB,
64 KiB and 1 MiB payloads, with the forms of 1 and of 4 secrets. No database, no network.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.redaction import Redactor


def median_us(redactor: Redactor, text: str, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        redactor.text(text)
        samples.append((time.perf_counter() - started) * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    repeat = parser.parse_args().repeat
    secrets = ["tok-7f1e-9a0b-secret", "p@ss w/rd+=?", "client-secret-0123456789", "api-key-abcdef"]
    print("| payload | secrets | clean payload us | payload with a secret us |")
    print("|---|---:|---:|---:|")
    for size in (1024, 64 * 1024, 1024 * 1024):
        # Varied text: a run of one character can be much faster or slower for str.find than real data.
        clean = json.dumps(
            [{"id": i, "sku": f"SKU-{i * 7919 % 100003}", "name": f"item {i}"} for i in range(size // 40)]
        )[:size]
        for count in (1, 4):
            redactor = Redactor(secrets[:count])
            dirty = clean[: size // 2] + secrets[0] + clean[size // 2 :]
            print(
                f"| {size // 1024} KiB | {count} | {median_us(redactor, clean, repeat):.1f} |"
                f" {median_us(redactor, dirty, repeat):.1f} |"
            )


if __name__ == "__main__":
    main()
