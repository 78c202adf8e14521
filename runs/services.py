"""Writes of the runs app: the queue (enqueue, claim, leases), manual retry and stop.

The database row is the truth. Executors only move run ids around; whoever wins the conditional UPDATE in
`claim_run` holds the run's lease and is the only one executing it until the lease ends or expires.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from designer.models import Flow, FlowVersion
from runs.errors import RunRefused
from runs.events import emit_run_event
from runs.logs import write_log
from runs.models import LogLine, Run, Step, WorkItem
from runs.payloads import storable_text
from runs.signals import run_finished

MANUAL_TRIGGERS = (Run.Trigger.MANUAL, Run.Trigger.API)
MANUAL_PRIORITY = 0
UNFINISHED_STEP_STATUSES = (Step.Status.PENDING, Step.Status.RUNNING, Step.Status.RETRYING)
# How many queued candidates claim_next_run looks at before giving up (flows at their limit are skipped).
CLAIM_CANDIDATES = 20


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_status_event(run: Run) -> dict[str, Any]:
    """The `run.status` event for `run` as it is now (DESIGN section 8)."""
    return {
        "type": "run.status",
        "run": run.pk,
        "flow": run.flow_id,
        "flow_version": run.flow_version_id,
        "status": run.status,
        "trigger": run.trigger,
        "attempt": run.attempt,
        "priority": run.priority,
        "retry_of": run.retry_of_id,
        "parent_run": run.parent_run_id,
        "queued_at": _iso(run.queued_at),
        "available_at": _iso(run.available_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "stop_requested": run.stop_requested,
        "error": run.error,
        "insights": run.insights,
    }


def backoff_delay(*, attempt: int, base: float | None = None) -> float:
    """`base * 2**(attempt-1)` with up to 25 % jitter, capped at PATCHBAY_RETRY_DELAY_MAX (DESIGN section 5).

    Jitter spreads retries of many runs that failed together; the result is never below the plain
    exponential value (unless capped), so tests can assert a lower bound through `available_at`.
    """
    base = settings.PATCHBAY_RETRY_DELAY if base is None else base
    delay = float(base) * 2 ** max(attempt - 1, 0)
    delay *= 1 + random.uniform(0, 0.25)
    return min(delay, float(settings.PATCHBAY_RETRY_DELAY_MAX))


def _submit_on_commit(run_id: int) -> None:
    # Imported here: the executors import services (claim_run), so a top-level import would be circular.
    from runs.executors import submit_run

    transaction.on_commit(lambda: submit_run(run_id))


def _create_run(
    *,
    flow: Flow,
    flow_version: FlowVersion,
    trigger: str,
    payload: str | None,
    meta: dict[str, Any],
    variables: dict[str, Any],
    user: Any,
    priority: int,
    parent_run: Run | None,
    retry_of: Run | None,
    attempt: int,
    delay_seconds: float,
) -> Run:
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.create(
            flow=flow,
            flow_version=flow_version,
            trigger=trigger,
            status=Run.Status.QUEUED,
            priority=priority,
            attempt=attempt,
            retry_of=retry_of,
            parent_run=parent_run,
            available_at=now + timedelta(seconds=max(delay_seconds, 0.0)),
            input_payload=storable_text(payload),
            input_meta={str(k): str(v) for k, v in (meta or {}).items()},
            variables=variables,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        message = f"Run queued by trigger {trigger}"
        if retry_of is not None:
            message = f"Run attempt {attempt} queued, retrying run {retry_of.pk}"
        if delay_seconds > 0:
            message += f"; due in {delay_seconds:.1f} s"
        write_log(run=run, level=LogLine.Level.INFO, message=message)
        emit_run_event(run.pk, run_status_event(run))
        _submit_on_commit(run.pk)
    return run


def enqueue_run(
    *,
    flow: Flow,
    trigger: str,
    payload: str | None = None,
    meta: dict | None = None,
    variables: dict | None = None,
    user: Any = None,
    priority: int | None = None,
    parent_run: Run | None = None,
    retry_of: Run | None = None,
    delay_seconds: float = 0.0,
) -> Run:
    """Queue a run of `flow`'s deployed version with `payload` as its input.

    Preconditions: the flow is enabled and has a deployed version, else `RunRefused`.
    Manual and API runs get priority 0 (ahead of the queue), others the flow's priority, unless `priority`
    is given. Variables are the flow's defaults overridden by `variables`. `retry_of` makes this the next
    attempt of that run (attempt + 1). Side effects: a Run row (queued, available `delay_seconds` from now),
    a run log line, a `run.status` event and `runs.executors.submit_run(run.id)` after commit (executors
    must cope with a submitted run that is not yet due; their sweep picks it up when it is).
    """
    if not flow.enabled:
        raise RunRefused(f"Flow '{flow.name}' is disabled.")
    version = FlowVersion.objects.filter(flow=flow, status=FlowVersion.Status.DEPLOYED).first()
    if version is None:
        raise RunRefused(f"Flow '{flow.name}' has no deployed version.")
    if priority is None:
        priority = MANUAL_PRIORITY if trigger in MANUAL_TRIGGERS else flow.priority
    merged = {**(flow.variables or {}), **(variables or {})}
    return _create_run(
        flow=flow,
        flow_version=version,
        trigger=trigger,
        payload=payload,
        meta=meta or {},
        variables=merged,
        user=user,
        priority=priority,
        parent_run=parent_run,
        retry_of=retry_of,
        attempt=retry_of.attempt + 1 if retry_of is not None else 1,
        delay_seconds=delay_seconds,
    )


def queue_run_attempt(
    *,
    run: Run,
    delay_seconds: float,
    user: Any = None,
    priority: int | None = None,
    flow_version: FlowVersion | None = None,
) -> Run:
    """Queue the next attempt of `run`: same flow version (unless `flow_version` is given), input and
    variables, attempt + 1, `retry_of`.

    Used by manual retries (runs/retries.py) and by response code 2. Side effects as `enqueue_run`; raises
    IntegrityError when `run` already has a retry (constraint `one_retry_per_run`).
    """
    return _create_run(
        flow=run.flow,
        flow_version=flow_version or run.flow_version,
        trigger=Run.Trigger.RETRY,
        payload=run.input_payload,
        meta=run.input_meta,
        variables=run.variables,
        user=user,
        priority=run.priority if priority is None else priority,
        parent_run=run.parent_run,
        retry_of=run,
        attempt=run.attempt + 1,
        delay_seconds=delay_seconds,
    )


def _flow_is_full(flow_id: int, limit: int | None) -> bool:
    if limit is None:
        return False
    return Run.objects.filter(flow_id=flow_id, status=Run.Status.RUNNING).count() >= limit


def _conditional_claim(*, run_id: int, worker_id: str, now: datetime) -> bool:
    lease_until = now + timedelta(seconds=settings.PATCHBAY_LEASE_SECONDS)
    updated = Run.objects.filter(id=run_id, status=Run.Status.QUEUED, available_at__lte=now).update(
        status=Run.Status.RUNNING,
        lease_owner=worker_id,
        lease_expires_at=lease_until,
        started_at=Coalesce("started_at", now),
    )
    return updated == 1


def claim_run(*, run_id: int, worker_id: str) -> Run | None:
    """Take the queued, due run `run_id` for `worker_id` (status running, lease for PATCHBAY_LEASE_SECONDS).

    Returns None when the run is not queued, not yet due, taken by someone else (0 rows updated), or its
    flow already has `max_concurrent_runs` running runs. For a flow with a limit the flow row is locked
    (SELECT FOR UPDATE; SQLite's IMMEDIATE transaction locks the database) so two workers cannot both take
    the last slot. Emits `run.status` (running) after commit.
    """
    now = timezone.now()
    row = Run.objects.filter(id=run_id).values("flow_id", "flow__max_concurrent_runs", "status").first()
    if row is None or row["status"] != Run.Status.QUEUED:
        return None
    with transaction.atomic():
        limit = row["flow__max_concurrent_runs"]
        if limit is not None:
            Flow.objects.select_for_update().filter(pk=row["flow_id"]).values_list("pk", flat=True).first()
            if _flow_is_full(row["flow_id"], limit):
                return None
        if not _conditional_claim(run_id=run_id, worker_id=worker_id, now=now):
            return None
        run = Run.objects.select_related("flow", "flow_version").get(pk=run_id)
        emit_run_event(run.pk, run_status_event(run))
    return run


def claim_next_run(*, worker_id: str) -> Run | None:
    """Claim the most urgent due run: lowest priority number, then oldest id; skips flows at their limit.

    Safe with many workers in many processes: a candidate someone else took is skipped (see `claim_run`).
    """
    now = timezone.now()
    full_flows: set[int] = set()
    candidates = list(
        Run.objects.filter(status=Run.Status.QUEUED, available_at__lte=now)
        .order_by("priority", "id")
        .values_list("id", "flow_id", "flow__max_concurrent_runs")[:CLAIM_CANDIDATES]
    )
    for run_id, flow_id, limit in candidates:
        if flow_id in full_flows:
            continue
        if limit is not None and _flow_is_full(flow_id, limit):
            full_flows.add(flow_id)
            continue
        run = claim_run(run_id=run_id, worker_id=worker_id)
        if run is not None:
            return run
    return None


def renew_lease(*, run: Run, worker_id: str, seconds: float | None = None) -> bool:
    """Extend `worker_id`'s lease on `run` to now + `seconds` (default PATCHBAY_LEASE_SECONDS).

    False when the lease is no longer this worker's (it expired and someone requeued or took the run):
    the caller must stop executing the run at once without writing to it.
    """
    lease = (
        settings.PATCHBAY_LEASE_SECONDS if seconds is None else max(seconds, settings.PATCHBAY_LEASE_SECONDS)
    )
    until = timezone.now() + timedelta(seconds=lease)
    updated = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, lease_owner=worker_id).update(
        lease_expires_at=until
    )
    if updated:
        run.lease_expires_at = until
    return updated == 1


def requeue_expired_leases(*, now: datetime | None = None) -> int:
    """Put running runs whose lease expired back in the queue (due now); they resume from their checkpoint.

    Each run is moved with a conditional UPDATE, so concurrent sweepers requeue it once. Side effects per
    run: log line "Lease expired; resuming from checkpoint", `run.status` (queued), submit after commit.
    Returns the number of runs requeued.
    """
    now = now or timezone.now()
    expired = list(
        Run.objects.filter(status=Run.Status.RUNNING, lease_expires_at__lt=now).values_list("id", flat=True)
    )
    count = 0
    for run_id in expired:
        with transaction.atomic():
            updated = Run.objects.filter(
                id=run_id, status=Run.Status.RUNNING, lease_expires_at__lt=now
            ).update(status=Run.Status.QUEUED, lease_owner="", lease_expires_at=None, available_at=now)
            if not updated:
                continue
            run = Run.objects.get(pk=run_id)
            write_log(run=run, level=LogLine.Level.WARNING, message="Lease expired; resuming from checkpoint")
            emit_run_event(run.pk, run_status_event(run))
            _submit_on_commit(run.pk)
        count += 1
    return count


RETRYABLE_STATUSES = (Run.Status.FAILED, Run.Status.STOPPED, Run.Status.PARTIAL_SUCCESS)


def retry_run(*, run: Run, user: Any = None, start_from: str = "start", version: str = "original") -> Run:
    """Manually retry a finished failed, stopped or partially successful run (`runs.retries.retry_run`)."""
    # Imported here: runs.retries builds on this module.
    from runs.retries import retry_run as retry_finished_run

    return retry_finished_run(run=run, start_from=start_from, version=version, user=user)


def stop_run(*, run: Run, user: Any = None) -> Run:
    """Stop a run: a queued one at once (status stopped), a running one after its current step.

    A running run gets `stop_requested`; the engine ends it as `stopped` after the step it is executing.
    Refuses (`RunRefused`) a run that has already ended. Side effects: a log line, `run.status`.
    """
    who = f" by {user}" if user is not None and getattr(user, "is_authenticated", False) else ""
    now = timezone.now()
    with transaction.atomic():
        stopped = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
            status=Run.Status.STOPPED,
            finished_at=now,
            lease_owner="",
            lease_expires_at=None,
            error="Stopped before it ran to the end.",
        )
        if stopped:
            # A run waiting for a step retry has that step in `retrying`: it will not be attempted again.
            Step.objects.filter(run_id=run.pk, status__in=UNFINISHED_STEP_STATUSES).update(
                status=Step.Status.STOPPED, finished_at=now, next_attempt_at=None
            )
            WorkItem.objects.filter(run_id=run.pk).delete()
            run.refresh_from_db()
            write_log(run=run, level=LogLine.Level.WARNING, message=f"Run stopped{who}")
            emit_run_event(run.pk, run_status_event(run))
            transaction.on_commit(partial(run_finished.send, sender=Run, run=run))
            return run
        requested = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(stop_requested=True)
        run.refresh_from_db()
        if requested:
            write_log(
                run=run, level=LogLine.Level.WARNING, message=f"Stop requested{who}; stopping after this step"
            )
            emit_run_event(run.pk, run_status_event(run))
            return run
    raise RunRefused(f"Run {run.pk} has already ended ({run.status}).")


def due_runs(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Ids of queued runs that are due, most urgent first (for executor sweeps)."""
    now = now or timezone.now()
    return list(
        Run.objects.filter(Q(status=Run.Status.QUEUED) & Q(available_at__lte=now))
        .order_by("priority", "id")
        .values_list("id", flat=True)[:limit]
    )
