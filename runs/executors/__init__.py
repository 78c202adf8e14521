"""One executor interface, two implementations (DESIGN section 3):

- `embedded`: threads inside the server process (runs/executors/embedded.py)
- `celery`:   an `execute_run` task on Celery workers (runs/executors/celery.py, runs/tasks.py)

Both only move run ids around: the database row is the truth, and both call the same engine entry point.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings


class Executor(Protocol):
    def submit(self, run_id: int) -> None:
        """Ask for `run_id` to be executed soon. Must not raise when the run is already taken."""


def get_executor() -> Executor:
    if settings.PATCHBAY_EXECUTOR == "celery":
        from runs.executors.celery import CeleryExecutor

        return CeleryExecutor()
    from runs.executors.embedded import get_embedded_executor

    return get_embedded_executor()


def submit_run(run_id: int) -> None:
    """Called after commit by runs.services.enqueue_run (and by retries) for every newly due run."""
    get_executor().submit(run_id)
