"""Every status transition of a `Run`, in one place (DESIGN section 3).

    enqueue_run / queue_run_attempt   -> queued
    claim_run / claim_next_run        queued -> running (lease for PATCHBAY_LEASE_SECONDS)
    save_checkpoint                   running -> running (checkpoint, lease renewal, log numbers)
    release_for_retry                 running -> queued (a step waits for its retry; checkpoint kept)
    requeue_expired_leases            running -> queued (the owner died; resumes from its checkpoint)
    finish_run                        running -> succeeded | failed | stopped | partial_success
    stop_run                          queued -> stopped, or running -> stop requested
    queue_run_attempt                 a finished run -> its next attempt, queued (response code 2 here;
                                      manual retries from the start or the failed step in runs.retries)

Each transition is one conditional UPDATE (0 rows: someone else moved the run first, nothing happens) plus
its log line and its `run.status` event after commit; the row is the truth, the in-memory `Run` is updated
to match without reading it back. Transitions into a terminal status send `runs.signals.run_finished`
after commit. Queued runs are handed to the executor (`runs.executors.submit_run`) after commit.

Functions that the engine calls inside its own checkpoint transaction (`save_checkpoint`,
`release_for_retry`, `finish_run`) join that transaction and hand out a block of log sequence numbers from
`Run.log_seq` in the same UPDATE, so the engine can insert a whole step's log lines at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from designer.models import Flow, FlowVersion
from runs.chain import chain_after, check_chain
from runs.errors import RunRefused
from runs.events import emit_run_event, run_status_event
from runs.executors import submit_run
from runs.logs import WARNING_LEVELS, new_log_line, store_log_lines, write_log
from runs.models import LogLine, Run, Step, WorkItem
from runs.payloads import storable_text
from runs.rows import Part, current_connection, insert_rows, select_joined, set_related
from runs.signals import run_finished

logger = logging.getLogger(__name__)

MANUAL_TRIGGERS = (Run.Trigger.MANUAL, Run.Trigger.API)
MANUAL_PRIORITY = 0
UNFINISHED_STEP_STATUSES = (Step.Status.PENDING, Step.Status.RUNNING, Step.Status.RETRYING)
RETRYABLE_STATUSES = (Run.Status.FAILED, Run.Status.STOPPED, Run.Status.PARTIAL_SUCCESS)
STOPPED = Run.Status.STOPPED
STOPPED_ERROR = "Stopped on request."
# How many queued candidates claim_next_run looks at before giving up (flows at their limit are skipped).
CLAIM_CANDIDATES = 20


class LeaseLost(Exception):
    """The caller no longer holds the run's lease: stop at once and write nothing more."""


def backoff_delay(*, attempt: int, base: float | None = None) -> float:
    """`base * 2**(attempt-1)` with up to 25 % jitter, capped at PATCHBAY_RETRY_DELAY_MAX (DESIGN section 5).

    Jitter spreads retries of many runs that failed together; the result is never below the plain
    exponential value (unless capped), so tests can assert a lower bound through `available_at`.
    """
    base = settings.PATCHBAY_RETRY_DELAY if base is None else base
    delay = float(base) * 2 ** max(attempt - 1, 0)
    delay *= 1 + random.uniform(0, 0.25)
    return min(delay, float(settings.PATCHBAY_RETRY_DELAY_MAX))


# --- the conditional UPDATE -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Updated:
    """What a conditional UPDATE of a run returned: the new `log_seq` and whether a stop was requested."""

    log_seq: int
    stop_requested: bool

    def first_seq(self, lines: int) -> int:
        """The first of the `lines` sequence numbers this update handed out."""
        return self.log_seq - lines + 1


@dataclass(frozen=True)
class SqlValue:
    """A column value given as SQL (`%s` placeholders filled from `params`) in `_update_run`."""

    sql: str
    params: tuple[Any, ...] = ()


def _concrete_field(name: str) -> Field:
    field = Run._meta.get_field(name)
    assert isinstance(field, Field) and field.column  # a column of the run table, never a reverse relation
    return field


def _column(field: Field) -> str:
    assert field.column is not None
    return connection.ops.quote_name(field.column)


@cache
def _update_sql(
    values: tuple[tuple[str, str | None], ...], where: tuple[str, ...], extra_where: str, vendor: str
) -> str:
    """The text of `_update_run`'s statement, built once per shape of update (column names come from the
    model and the callers' literal SQL, never from input)."""
    quote = connection.ops.quote_name
    assignments = [
        f"{_column(_concrete_field(name))} = {sql if sql is not None else '%s'}" for name, sql in values
    ]
    assignments.append(f"{quote('log_seq')} = {quote('log_seq')} + %s")
    conditions = [f"{quote('id')} = %s"]
    conditions.extend(f"{_column(_concrete_field(name))} = %s" for name in where)
    if extra_where:
        conditions.append(extra_where)
    return (
        f"UPDATE {quote(Run._meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE {' AND '.join(conditions)} RETURNING {quote('log_seq')}, {quote('stop_requested')}"
    )


def _update_run(
    run_id: int,
    *,
    where: dict[str, Any],
    values: dict[str, Any],
    add_log_seq: int = 0,
    extra_where: str = "",
    extra_params: Sequence[Any] = (),
) -> Updated | None:
    """`UPDATE run SET values, log_seq = log_seq + add_log_seq WHERE id = run_id AND where ... RETURNING`.

    One round trip: the row's write lock (PostgreSQL) or the database write lock (SQLite, IMMEDIATE) is held
    until the surrounding transaction ends, so the log numbers handed out are the caller's alone. None when
    no row matched (the run is not in the state the caller expected). RETURNING needs PostgreSQL or
    SQLite >= 3.35, the two databases Patchbay supports.
    """
    db = current_connection()
    params: list[Any] = []
    shape: list[tuple[str, str | None]] = []
    for name, value in values.items():
        field = _concrete_field(name)
        if isinstance(value, SqlValue):
            shape.append((name, value.sql))
            params.extend(field.get_db_prep_save(param, db) for param in value.params)
            continue
        shape.append((name, None))
        params.append(field.get_db_prep_save(value, db))
    params.append(add_log_seq)
    params.append(run_id)
    for name, value in where.items():
        params.append(_concrete_field(name).get_db_prep_value(value, db))
    params.extend(extra_params)
    sql = _update_sql(tuple(shape), tuple(where), extra_where, db.vendor)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return Updated(int(row[0]), bool(row[1]))


def _delete_work_items(run_id: int) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # The table and column names come from the model, never from input.
        cursor.execute(
            f"DELETE FROM {quote(WorkItem._meta.db_table)} WHERE {quote('run_id')} = %s",  # noqa: S608
            [run_id],
        )


def _lease_where(worker_id: str) -> dict[str, Any]:
    return {"status": Run.Status.RUNNING, "lease_owner": worker_id}


def _submit_on_commit(run_id: int, available_at: datetime | None) -> None:
    transaction.on_commit(lambda: submit_run(run_id, available_at=available_at))


def _finished_on_commit(run: Run) -> None:
    def send() -> None:
        for receiver, result in run_finished.send_robust(sender=Run, run=run):
            if isinstance(result, Exception):
                logger.error("run_finished receiver %r failed for run %s", receiver, run.pk, exc_info=result)

    transaction.on_commit(send)


# --- enqueue ------------------------------------------------------------------------------------------------
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
    trigger_chain: list[dict[str, int]] | None = None,
    test_graph: dict[str, Any] | None = None,
) -> Run:
    now = timezone.now()
    message = f"Run queued by trigger {trigger}"
    if test_graph is not None:
        message = f"Test run of the draft queued by trigger {trigger}"
    if retry_of is not None:
        message = f"Run attempt {attempt} queued, retrying run {retry_of.pk}"
    if delay_seconds > 0:
        message += f"; due in {delay_seconds:.1f} s"
    with transaction.atomic(savepoint=False):
        # A new run's first log line needs no counter round trip: nobody else can write to it yet.
        run = Run(
            flow=flow,
            flow_version=flow_version,
            trigger=trigger,
            status=Run.Status.QUEUED,
            priority=priority,
            attempt=attempt,
            retry_of=retry_of,
            parent_run=parent_run,
            trigger_chain=trigger_chain or [],
            available_at=now + timedelta(seconds=max(delay_seconds, 0.0)),
            input_payload=storable_text(payload),
            input_meta={str(k): str(v) for k, v in (meta or {}).items()},
            variables=variables,
            created_by=user if getattr(user, "is_authenticated", False) else None,
            log_seq=1,
            is_test=test_graph is not None,
            test_graph=test_graph,
        )
        insert_rows([run])  # Run.objects.create's row, the INSERT built once per process (runs.rows)
        line = new_log_line(run_id=run.pk, step=None, level=LogLine.Level.INFO, message=message)
        store_log_lines([line], first_seq=1)
        emit_run_event(run.pk, run_status_event(run))
        _submit_on_commit(run.pk, run.available_at)
    return run


VERSION_PARTS = (Part(FlowVersion, "v"), Part(Flow, "f"))


def deployed_version_for_webhook(key: str) -> FlowVersion | None:
    """The deployed version, with its flow loaded, of the flow whose webhook key is `key`: what
    `FlowVersion.objects.select_related("flow").filter(flow__webhook_key=key, status=DEPLOYED).first()`
    returns, read through a statement built once (runs.rows) on every webhook call. None when the flow
    does not exist or has no deployed version."""
    quote = connection.ops.quote_name
    db = current_connection()
    found = select_joined(
        VERSION_PARTS,
        f"FROM {quote(FlowVersion._meta.db_table)} v INNER JOIN {quote(Flow._meta.db_table)} f"
        f" ON (f.{quote('id')} = v.{quote('flow_id')})"
        f" WHERE f.{quote('webhook_key')} = %s AND v.{quote('status')} = %s"
        f" ORDER BY v.{quote('flow_id')} ASC, v.{quote('number')} DESC LIMIT 1",
        [Flow._meta.get_field("webhook_key").get_db_prep_value(key, db), FlowVersion.Status.DEPLOYED],
    )
    if not found:
        return None
    version, flow = found[0]
    set_related(version, "flow", flow)
    return version  # type: ignore[return-value]


def deployed_version_of(flow: Flow) -> FlowVersion | None:
    return FlowVersion.objects.filter(flow=flow, status=FlowVersion.Status.DEPLOYED).first()


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
    flow_version: FlowVersion | None = None,
    trigger_chain: list[dict[str, int]] | None = None,
    test: bool = False,
) -> Run:
    """Queue a run of `flow`'s deployed version with `payload` as its input.

    The run's trigger chain (runs/chain.py) is `trigger_chain` (a webhook call made by a run), else its
    parent's chain extended by the parent (a retry keeps the retried run's chain); `RunRefused` when it
    passes a chain limit.

    Preconditions: the flow is enabled and has a deployed version, else `RunRefused`. With `test` the run
    is a test run of the flow's draft as it is now (a snapshot of its graph, which the caller has
    validated), allowed for a disabled or never deployed flow. A caller that has
    just read the deployed version (the webhook) passes it as `flow_version` to spare the query.
    Manual and API runs get priority 0 (ahead of the queue), others the flow's priority, unless `priority`
    is given. Variables are the flow's defaults overridden by `variables`. `retry_of` makes this the next
    attempt of that run (attempt + 1). Side effects: a Run row (queued, available `delay_seconds` from now),
    a run log line, a `run.status` event and `runs.executors.submit_run(run.id)` after commit (executors
    must cope with a submitted run that is not yet due; their sweep picks it up when it is).
    """
    test_graph: dict[str, Any] | None = None
    version: FlowVersion | None
    if test:
        version = FlowVersion.objects.get(flow=flow, status=FlowVersion.Status.DRAFT)
        test_graph = version.graph
    else:
        if not flow.enabled:
            raise RunRefused(f"Flow '{flow.name}' is disabled.")
        version = flow_version if flow_version is not None else deployed_version_of(flow)
        if version is None:
            raise RunRefused(f"Flow '{flow.name}' has no deployed version.")
    if priority is None:
        priority = MANUAL_PRIORITY if trigger in MANUAL_TRIGGERS else flow.priority
    if trigger_chain is None:
        if parent_run is not None:
            trigger_chain = chain_after(parent_run)
        else:  # a retry is the same run again: it keeps the chain
            trigger_chain = list(retry_of.trigger_chain or []) if retry_of is not None else []
    check_chain(trigger_chain, flow_id=flow.pk, flow_name=flow.name)
    merged = {**(flow.variables or {}), **(variables or {})}
    return _create_run(
        trigger_chain=trigger_chain,
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
        test_graph=test_graph,
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
        trigger_chain=list(run.trigger_chain or []),
        # The next attempt of a test run runs the same draft snapshot, unless told to run another version.
        test_graph=(
            run.test_graph
            if run.is_test and (flow_version is None or flow_version.pk == run.flow_version_id)
            else None
        ),
    )


# --- claim ----------------------------------------------------------------------------------------------
RUN_PARTS = (Part(Run, "r"), Part(Flow, "f"), Part(FlowVersion, "v"))


def _runs_with_flow(where: str, params: Sequence[Any], *, limit: int | None = None) -> list[Run]:
    """Runs with their flow and flow version loaded, as `select_related("flow", "flow_version")` reads
    them, through a statement built once (runs.rows.select_joined) instead of a compiled QuerySet."""
    quote = connection.ops.quote_name
    sql = (
        f"FROM {quote(Run._meta.db_table)} r"
        f" INNER JOIN {quote(Flow._meta.db_table)} f ON (f.{quote('id')} = r.{quote('flow_id')})"
        f" INNER JOIN {quote(FlowVersion._meta.db_table)} v"
        f" ON (v.{quote('id')} = r.{quote('flow_version_id')}) WHERE {where}"
        + (f" LIMIT {int(limit)}" if limit is not None else "")
    )
    runs: list[Run] = []
    for run, flow, version in select_joined(RUN_PARTS, sql, params):
        set_related(run, "flow", flow)
        set_related(run, "flow_version", version)
        runs.append(run)  # type: ignore[arg-type]
    return runs


def load_run(run_id: int) -> Run | None:
    """The run `run_id` with its flow and flow version, or None."""
    found = _runs_with_flow(f"r.{connection.ops.quote_name('id')} = %s", [run_id])
    return found[0] if found else None


def _most_urgent_due_run(now: datetime) -> Run | None:
    quote = connection.ops.quote_name
    found = _runs_with_flow(
        f"r.{quote('status')} = %s AND r.{quote('available_at')} <= %s"
        f" ORDER BY r.{quote('priority')} ASC, r.{quote('id')} ASC",
        [Run.Status.QUEUED, _concrete_field("available_at").get_db_prep_value(now, connection)],
        limit=1,
    )
    return found[0] if found else None


def _flow_is_full(flow_id: int, limit: int | None) -> bool:
    if limit is None:
        return False
    return Run.objects.filter(flow_id=flow_id, status=Run.Status.RUNNING).count() >= limit


def claim_run(*, run_id: int, worker_id: str) -> Run | None:
    """Take the queued, due run `run_id` for `worker_id` (status running, lease for PATCHBAY_LEASE_SECONDS).

    Returns the run with its flow and flow version loaded, or None when the run is not queued, not yet due,
    taken by someone else (0 rows updated), or its flow already has `max_concurrent_runs` running runs. For
    a flow with a limit the flow row is locked (SELECT FOR UPDATE; SQLite's IMMEDIATE transaction locks the
    database) so two workers cannot both take the last slot. Emits `run.status` (running) after commit.
    """
    run = load_run(run_id)
    if run is None or run.status != Run.Status.QUEUED:
        return None
    return _claim_loaded(run, worker_id=worker_id)


def _claim_loaded(run: Run, *, worker_id: str) -> Run | None:
    """`claim_run` for a queued run already read with its flow and flow version."""
    now = timezone.now()
    if run.available_at > now:
        return None
    lease_until = now + timedelta(seconds=settings.PATCHBAY_LEASE_SECONDS)
    with transaction.atomic(savepoint=False):
        limit = run.flow.max_concurrent_runs
        if limit is not None:
            Flow.objects.select_for_update().filter(pk=run.flow_id).values_list("pk", flat=True).first()
            if _flow_is_full(run.flow_id, limit):
                return None
        quote = connection.ops.quote_name
        updated = _update_run(
            run.pk,
            where={"status": Run.Status.QUEUED},
            values={
                "status": Run.Status.RUNNING,
                "lease_owner": worker_id,
                "lease_expires_at": lease_until,
                "started_at": SqlValue(f"COALESCE({quote('started_at')}, %s)", (now,)),
            },
            extra_where=f"{quote('available_at')} <= %s",
            extra_params=[_concrete_field("available_at").get_db_prep_value(now, connection)],
        )
        if updated is None:
            return None
        run.log_seq = updated.log_seq
        run.stop_requested = updated.stop_requested
        run.status = Run.Status.RUNNING
        run.lease_owner = worker_id
        run.lease_expires_at = lease_until
        run.started_at = run.started_at or now
        emit_run_event(run.pk, run_status_event(run))
    return run


def claim_next_run(*, worker_id: str) -> Run | None:
    """Claim the most urgent due run: lowest priority number, then oldest id; skips flows at their limit.

    Safe with many workers in many processes: a candidate someone else took is skipped (see `claim_run`).
    The usual case costs two statements: the most urgent run read whole, and the conditional UPDATE.
    """
    now = timezone.now()
    due = Run.objects.filter(status=Run.Status.QUEUED, available_at__lte=now).order_by("priority", "id")
    first = _most_urgent_due_run(now)
    if first is None:
        return None
    if first.flow.max_concurrent_runs is None:
        claimed = _claim_loaded(first, worker_id=worker_id)
        if claimed is not None:
            return claimed
    full_flows: set[int] = set()
    candidates = list(due.values_list("id", "flow_id", "flow__max_concurrent_runs")[:CLAIM_CANDIDATES])
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


def due_runs(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Ids of queued runs that are due, most urgent first (for executor sweeps)."""
    now = now or timezone.now()
    return list(
        Run.objects.filter(status=Run.Status.QUEUED, available_at__lte=now)
        .order_by("priority", "id")
        .values_list("id", flat=True)[:limit]
    )


# --- while it runs ----------------------------------------------------------------------------------------
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


def _store_lines(run: Run, lines: Sequence[LogLine], updated: Updated) -> None:
    store_log_lines(lines, first_seq=updated.first_seq(len(lines)))
    run.log_seq = updated.log_seq
    if any(line.level in WARNING_LEVELS for line in lines):
        run.has_warnings = True


def _warning_values(lines: Sequence[LogLine]) -> dict[str, Any]:
    return {"has_warnings": True} if any(line.level in WARNING_LEVELS for line in lines) else {}


def save_checkpoint(
    *,
    run: Run,
    worker_id: str,
    checkpoint: dict[str, Any],
    lines: Sequence[LogLine] = (),
    extra_lease_seconds: float = 0.0,
) -> bool:
    """Save the run's checkpoint, renew the lease and store `lines` (numbered here) in one UPDATE + INSERT.

    The lease lasts PATCHBAY_LEASE_SECONDS plus `extra_lease_seconds` (what the next step may block for).
    Call inside the transaction that records the step. Returns whether a stop was requested. Raises
    `LeaseLost` when the lease is no longer `worker_id`'s.
    """
    until = timezone.now() + timedelta(
        seconds=settings.PATCHBAY_LEASE_SECONDS + max(extra_lease_seconds, 0.0)
    )
    with transaction.atomic(savepoint=False):
        updated = _update_run(
            run.pk,
            where=_lease_where(worker_id),
            values={"checkpoint": checkpoint, "lease_expires_at": until, **_warning_values(lines)},
            add_log_seq=len(lines),
        )
        if updated is None:
            raise LeaseLost
        _store_lines(run, lines, updated)
    run.lease_expires_at = until
    run.checkpoint = checkpoint
    return updated.stop_requested


def extend_lease(*, run: Run, worker_id: str, until: datetime) -> None:
    """Make `worker_id`'s lease on `run` last until `until` (before a long blocking call).

    Raises `LeaseLost`."""
    updated = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING, lease_owner=worker_id).update(
        lease_expires_at=until
    )
    if not updated:
        raise LeaseLost
    run.lease_expires_at = until


def release_for_retry(
    *,
    run: Run,
    worker_id: str,
    available_at: datetime,
    checkpoint: dict[str, Any],
    lines: Sequence[LogLine] = (),
) -> None:
    """Give a running run back to the queue until `available_at` (a step waits for its retry).

    The checkpoint is kept (the retry item is on top of the stack), so whoever claims the run next executes
    the retry at once. Call inside the engine's step transaction. Side effects: `lines` stored, `run.status`
    (queued) and submit (with the due time) after commit. Raises `LeaseLost`.
    """
    with transaction.atomic(savepoint=False):
        updated = _update_run(
            run.pk,
            where=_lease_where(worker_id),
            values={
                "status": Run.Status.QUEUED,
                "available_at": available_at,
                "lease_owner": "",
                "lease_expires_at": None,
                "checkpoint": checkpoint,
                **_warning_values(lines),
            },
            add_log_seq=len(lines),
        )
        if updated is None:
            raise LeaseLost
        _store_lines(run, lines, updated)
        run.status = Run.Status.QUEUED
        run.available_at = available_at
        run.lease_owner = ""
        run.lease_expires_at = None
        run.checkpoint = checkpoint
        run.stop_requested = updated.stop_requested
        emit_run_event(run.pk, run_status_event(run))
        _submit_on_commit(run.pk, available_at)


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
    quote = connection.ops.quote_name
    for run_id in expired:
        with transaction.atomic(savepoint=False):
            line = new_log_line(
                run_id=run_id,
                step=None,
                level=LogLine.Level.WARNING,
                message="Lease expired; resuming from checkpoint",
            )
            updated = _update_run(
                run_id,
                where={"status": Run.Status.RUNNING},
                values={
                    "status": Run.Status.QUEUED,
                    "lease_owner": "",
                    "lease_expires_at": None,
                    "available_at": now,
                    "has_warnings": True,
                },
                add_log_seq=1,
                extra_where=f"{quote('lease_expires_at')} < %s",
                extra_params=[_concrete_field("lease_expires_at").get_db_prep_value(now, connection)],
            )
            if updated is None:
                continue
            store_log_lines([line], first_seq=updated.log_seq)
            run = Run.objects.get(pk=run_id)
            emit_run_event(run.pk, run_status_event(run))
            _submit_on_commit(run.pk, now)
        count += 1
    return count


# --- the end ------------------------------------------------------------------------------------------------
def finish_run(
    *,
    run: Run,
    worker_id: str,
    status: str,
    error: str = "",
    final_payload: str | None = None,
    insights: dict[str, Any] | None = None,
    lines: Sequence[LogLine] = (),
    retry_run: bool = False,
    delete_work_items: bool = True,
    stop_if_requested: bool = False,
    checkpoint: dict[str, Any] | None = None,
) -> Run | None:
    """End a running run that `worker_id` owns: `status`, timings, final payload, insights, no lease.

    `lines` (the engine's unsaved lines of the last step) are stored before the run's closing line
    ("Run succeeded in 12 ms"). A failed run keeps `checkpoint` (the engine's state) and its work item
    rows, the failed one included, for a retry from the failed step (runs/retries.py); otherwise the
    checkpoint is cleared and pending work items are deleted (`delete_work_items=False`: the caller
    knows it stored none). On failed / stopped, unfinished steps become stopped. With `retry_run`
    (response code 2) the next attempt is queued after a backoff while `max_run_retries` allows. With
    `stop_if_requested` (the engine finishing right after a step) a stop requested meanwhile makes the
    run `stopped` instead, decided by the same UPDATE. Call inside the engine's transaction or alone.
    Side effects after commit: `run.status`, `runs.signals.run_finished`. Returns the queued retry, if
    any. Raises `LeaseLost`.
    """
    now = timezone.now()
    insights = insights or {}
    error = error[:10000]
    kept_checkpoint = (checkpoint or {}) if status == Run.Status.FAILED else {}
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "final_payload": final_payload,
        "insights": insights,
        "error": error,
        "checkpoint": kept_checkpoint,
        "lease_owner": "",
        "lease_expires_at": None,
    }
    if stop_if_requested:
        stop_requested = connection.ops.quote_name("stop_requested")
        values["status"] = SqlValue(f"CASE WHEN {stop_requested} THEN %s ELSE %s END", (STOPPED, status))
        values["error"] = SqlValue(f"CASE WHEN {stop_requested} THEN %s ELSE %s END", (STOPPED_ERROR, error))
    # The closing line is a warning or an error unless the run succeeded.
    sets_warnings = any(line.level in WARNING_LEVELS for line in lines) or status != Run.Status.SUCCEEDED
    retry: Run | None = None
    with transaction.atomic(savepoint=False):
        updated = _update_run(
            run.pk,
            where=_lease_where(worker_id),
            values={**values, **({"has_warnings": True} if sets_warnings else {})},
            add_log_seq=len(lines) + 1,
        )
        if updated is None:
            raise LeaseLost
        if stop_if_requested and updated.stop_requested:
            status, error = STOPPED, STOPPED_ERROR
        if delete_work_items and status != Run.Status.FAILED:
            _delete_work_items(run.pk)
        if status in (Run.Status.FAILED, Run.Status.STOPPED):
            Step.objects.filter(run_id=run.pk, status__in=UNFINISHED_STEP_STATUSES).update(
                status=Step.Status.STOPPED, finished_at=now, next_attempt_at=None
            )
        level = LogLine.Level.INFO if status == Run.Status.SUCCEEDED else LogLine.Level.WARNING
        if status == Run.Status.FAILED:
            level = LogLine.Level.ERROR
        message = f"Run {status.replace('_', ' ')} in {float(insights.get('duration_ms', 0)):.0f} ms"
        if error:
            message += f": {error}"
        closing = new_log_line(run_id=run.pk, step=None, level=level, message=message)
        if level in WARNING_LEVELS and not sets_warnings:
            # Stopped instead of succeeded, decided by the UPDATE above.
            Run.objects.filter(pk=run.pk).update(has_warnings=True)
        _store_lines(run, [*lines, closing], updated)
        run.status = status
        run.finished_at = now
        run.final_payload = final_payload
        run.insights = insights
        run.error = error
        run.checkpoint = kept_checkpoint
        run.lease_owner = ""
        run.lease_expires_at = None
        run.stop_requested = updated.stop_requested
        emit_run_event(run.pk, run_status_event(run))
        if retry_run:
            retry = _queue_automatic_retry(run)
        _finished_on_commit(run)
    return retry


def _queue_automatic_retry(run: Run) -> Run | None:
    flow = run.flow
    if run.attempt > flow.max_run_retries:
        write_log(
            run=run,
            level=LogLine.Level.ERROR,
            message=f"No run retries left (max_run_retries = {flow.max_run_retries}); failed for good",
        )
        return None
    delay = backoff_delay(attempt=run.attempt)
    retry = queue_run_attempt(run=run, delay_seconds=delay)
    write_log(
        run=run,
        level=LogLine.Level.WARNING,
        message=f"Run attempt {retry.attempt} queued as run {retry.pk} in {delay:.1f} s",
    )
    return retry


def stop_run(*, run: Run, user: Any = None) -> Run:
    """Stop a run: a queued one at once (status stopped), a running one after its current step.

    A running run gets `stop_requested`; the engine ends it as `stopped` after the step it is executing.
    Refuses (`RunRefused`) a run that has already ended. Side effects: a log line, `run.status`, and for a
    queued run `run_finished` after commit.
    """
    who = f" by {user}" if user is not None and getattr(user, "is_authenticated", False) else ""
    now = timezone.now()
    with transaction.atomic(savepoint=False):
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
            _finished_on_commit(run)
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
