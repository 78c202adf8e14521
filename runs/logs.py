"""The run log: ordered lines per run with gap-free sequence numbers."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from runs.events import emit_run_event
from runs.models import LogLine, Run, Step
from runs.payloads import storable_text

RETURNING_VENDORS = ("postgresql", "sqlite")


def _next_seq(run_id: int) -> int:
    if connection.vendor in RETURNING_VENDORS:
        # One round trip instead of UPDATE + SELECT (PostgreSQL, SQLite >= 3.35).
        table = connection.ops.quote_name(Run._meta.db_table)
        with connection.cursor() as cursor:
            # The table name comes from the model, never from input.
            sql = f"UPDATE {table} SET log_seq = log_seq + 1 WHERE id = %s RETURNING log_seq"  # noqa: S608
            cursor.execute(sql, [run_id])
            row = cursor.fetchone()
        if row is None:
            raise Run.DoesNotExist(f"Run {run_id} does not exist.")
        return int(row[0])
    Run.objects.filter(pk=run_id).update(log_seq=F("log_seq") + 1)
    return int(Run.objects.filter(pk=run_id).values_list("log_seq", flat=True).get())


def write_log(*, run: Run, step: Step | None = None, level: str, message: str, data: Any = None) -> LogLine:
    """Append a line to `run`'s log and emit `run.log` after commit.

    The sequence number comes from `Run.log_seq`, incremented with an UPDATE inside the same transaction as
    the insert: the UPDATE holds the run row's lock (PostgreSQL) or the database write lock (SQLite,
    IMMEDIATE transactions), so concurrent writers (the engine and an API call such as stop) get distinct,
    gap-free numbers, and a rolled-back insert rolls its number back too.
    """
    message = storable_text(message) or ""
    if level not in LogLine.Level.values:
        level = LogLine.Level.INFO
    with transaction.atomic():
        seq = _next_seq(run.pk)
        line = LogLine.objects.create(
            run_id=run.pk, step=step, seq=seq, ts=timezone.now(), level=level, message=message, data=data
        )
        if level in (LogLine.Level.WARNING, LogLine.Level.ERROR) and not run.has_warnings:
            Run.objects.filter(pk=run.pk).update(has_warnings=True)
            run.has_warnings = True
    run.log_seq = seq
    emit_run_event(
        run.pk,
        {
            "type": "run.log",
            "seq": seq,
            "ts": line.ts.isoformat(),
            "level": level,
            "step": step.pk if step is not None else None,
            "message": message,
        },
    )
    return line
