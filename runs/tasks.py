"""Celery tasks of the celery executor (PATCHBAY_EXECUTOR=celery) and the periodic jobs Celery beat sends.

`execute_run` is acknowledged late and rejected (requeued) when its worker dies, so a killed worker's task
is delivered again; the claim makes a second delivery of a run someone already took a no-op, and a run
whose worker died mid-run comes back through the lease sweep and resumes from its checkpoint.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from runs import lifecycle
from runs.engine import execute_claimed_run
from runs.executors.celery import send_run
from runs.retention import prune_runs as prune_run_history
from runs.triggers.schedule import fire_due_schedules

logger = logging.getLogger(__name__)

# Queued runs that have been due this long without being claimed are submitted again by the sweep
# (their message was lost, or the broker was down when they were queued). Younger ones are most likely
# still waiting in the broker queue, and resubmitting them would only add duplicate messages.
RESUBMIT_AFTER_SECONDS = 10.0
RESUBMIT_LIMIT = 500


def worker_id() -> str:
    return f"celery:{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@shared_task(name="runs.execute_run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_run(run_id: int) -> None:
    """Claim run `run_id` and execute it; a run not queued or not due (someone has it) is a no-op."""
    me = worker_id()
    run = lifecycle.claim_run(run_id=run_id, worker_id=me)
    if run is None:
        return
    # A step retry puts the run back in the queue with a future available_at; runs.lifecycle sends the task
    # again for then (release_for_retry submits with the due time after commit).
    execute_claimed_run(run, worker_id=me)


@shared_task(name="runs.sweep_runs", ignore_result=True)
def sweep_runs() -> int:
    """Re-queue runs whose lease expired and resubmit due runs nobody claimed. Returns how many it sent."""
    requeued = lifecycle.requeue_expired_leases()  # each one is submitted after commit by the lifecycle
    stale = timezone.now() - timedelta(seconds=RESUBMIT_AFTER_SECONDS)
    resubmitted = lifecycle.due_runs(now=stale, limit=RESUBMIT_LIMIT)
    for run_id in resubmitted:
        send_run(run_id)
    if requeued or resubmitted:
        logger.info("Sweep: %d expired leases requeued, %d due runs resubmitted", requeued, len(resubmitted))
    return requeued + len(resubmitted)


@shared_task(name="runs.fire_schedules", ignore_result=True)
def fire_schedules() -> int:
    return len(fire_due_schedules())


@shared_task(name="runs.prune_runs", ignore_result=True)
def prune_runs() -> None:
    prune_run_history()
