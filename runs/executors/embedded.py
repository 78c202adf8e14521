"""Embedded executor: worker threads in the server process. Built by the run-engine issue."""

from __future__ import annotations

import threading


class EmbeddedExecutor:
    def __init__(self) -> None:
        self.wake = threading.Event()

    def submit(self, run_id: int) -> None:
        self.wake.set()


_executor = EmbeddedExecutor()


def get_embedded_executor() -> EmbeddedExecutor:
    return _executor
