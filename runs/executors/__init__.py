"""One executor interface, two implementations (DESIGN section 3):

- `embedded`: threads inside the server process (runs/executors/embedded.py)
- `celery`:   an `execute_run` task on Celery workers (runs/executors/celery.py, runs/tasks.py)

Both only move run ids around: the database row is the truth, and both call the same engine entry point.

This package's own module is the bottom of the dependency order: runs.lifecycle submits through it, and
the executors (which import the engine, which imports the lifecycle) plug in from above. The embedded
executor registers itself here when it is created; the Celery one sends a task by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.conf import settings

from runs.executors.celery import send_run


class Executor(Protocol):
    def submit(self, run_id: int, *, available_at: datetime | None = None) -> None:
        """Ask for `run_id` to be executed soon (or at `available_at`). Must not raise when it is taken."""


_local: Executor | None = None


def register_local_executor(executor: Executor) -> None:
    """The started embedded executor of this process: submits in embedded mode wake it."""
    global _local
    _local = executor


def unregister_local_executor(executor: Executor) -> None:
    """`executor` stopped; submits no longer wake it."""
    global _local
    if _local is executor:
        _local = None


def submit_run(run_id: int, *, available_at: datetime | None = None) -> None:
    """Called after commit by runs.lifecycle for every newly queued run (and by retries and sweeps).

    `available_at` is the run's due time when the caller knows it (no query then). In embedded mode
    without a started executor in this process (tests, management commands) it does nothing: whichever
    server process has one picks the run up from the database.
    """
    if settings.PATCHBAY_EXECUTOR == "celery":
        send_run(run_id, available_at=available_at)
    elif _local is not None:
        _local.submit(run_id, available_at=available_at)
