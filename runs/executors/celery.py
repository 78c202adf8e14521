"""Celery executor: `submit` sends the `runs.execute_run` task (runs/tasks.py) to the broker.

The task only carries the run id; the worker claims the run itself, so a task delivered twice (late
acknowledgement, a sweep that resubmits) executes the run once. The task is sent by name, so this module
needs nothing of the engine.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from config.celery import app
from runs.models import Run

EXECUTE_RUN_TASK = "runs.execute_run"


def send_run(run_id: int, *, available_at: datetime | None = None) -> None:
    """Send the task for `run_id`; with a future due time (`available_at`, read when not given) with an ETA,
    so no worker claims it early and nobody needs to poll for it (the sweep is the safety net)."""
    if available_at is None:
        available_at = Run.objects.filter(pk=run_id).values_list("available_at", flat=True).first()
    if available_at is not None and available_at > timezone.now():
        app.send_task(EXECUTE_RUN_TASK, args=[run_id], eta=available_at)
    else:
        app.send_task(EXECUTE_RUN_TASK, args=[run_id])


class CeleryExecutor:
    def submit(self, run_id: int, *, available_at: datetime | None = None) -> None:
        send_run(run_id, available_at=available_at)
