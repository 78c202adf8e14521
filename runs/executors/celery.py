"""Celery executor: `submit` sends the `runs.execute_run` task (runs/tasks.py) to the broker.

The task only carries the run id; the worker claims the run itself, so a task delivered twice (late
acknowledgement, a sweep that resubmits) executes the run once.
"""

from __future__ import annotations

from django.utils import timezone

from runs.models import Run


class CeleryExecutor:
    def submit(self, run_id: int) -> None:
        from runs.tasks import execute_run

        # A run queued with a delay (a retry's backoff) is sent with an ETA, so no worker claims it early
        # and nobody needs to poll for it; the sweep is the safety net if the message is lost.
        available_at = Run.objects.filter(pk=run_id).values_list("available_at", flat=True).first()
        if available_at is not None and available_at > timezone.now():
            execute_run.apply_async(args=[run_id], eta=available_at)
        else:
            execute_run.delay(run_id)
