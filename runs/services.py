"""Writes of the runs app that the API, the admin and the triggers call.

Every run status transition lives in runs.lifecycle (enqueue, claim, leases, retry waits, finish, stop,
next attempts; manual retries from the start or the failed step build on it in runs.retries); this module
names the ones the edges use, so views and triggers keep one place to import writes
from. The engine itself imports runs.lifecycle, never this module.
"""

from __future__ import annotations

from runs.events import run_status_event
from runs.lifecycle import (
    CLAIM_CANDIDATES,
    MANUAL_PRIORITY,
    MANUAL_TRIGGERS,
    RETRYABLE_STATUSES,
    UNFINISHED_STEP_STATUSES,
    backoff_delay,
    claim_next_run,
    claim_run,
    due_runs,
    enqueue_run,
    queue_run_attempt,
    renew_lease,
    requeue_expired_leases,
    stop_run,
)
from runs.retries import retry_run

__all__ = [
    "CLAIM_CANDIDATES",
    "MANUAL_PRIORITY",
    "MANUAL_TRIGGERS",
    "RETRYABLE_STATUSES",
    "UNFINISHED_STEP_STATUSES",
    "backoff_delay",
    "claim_next_run",
    "claim_run",
    "due_runs",
    "enqueue_run",
    "queue_run_attempt",
    "renew_lease",
    "requeue_expired_leases",
    "retry_run",
    "run_status_event",
    "stop_run",
]
