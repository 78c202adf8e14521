"""The run log: ordered lines per run with gap-free sequence numbers.

Two ways to write: `write_log` appends one line in its own statement pair (API calls, the sweeper), and the
engine builds a step's lines in memory with `new_log_line` and stores them with `store_log_lines` inside
its checkpoint transaction, after taking a block of sequence numbers from `Run.log_seq` in the same
conditional UPDATE that saves the checkpoint (runs.lifecycle.save_checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from runs.events import emit_run_event, log_line_event
from runs.models import LogLine, Run, Step
from runs.payloads import storable_text
from runs.rows import insert_rows

RETURNING_VENDORS = ("postgresql", "sqlite")
WARNING_LEVELS = (LogLine.Level.WARNING, LogLine.Level.ERROR)


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


def new_log_line(*, run_id: int, step: Step | None, level: str, message: str, data: Any = None) -> LogLine:
    """An unsaved line (no `seq` yet) stamped now; `store_log_lines` numbers and inserts it."""
    if level not in LogLine.Level.values:
        level = LogLine.Level.INFO
    return LogLine(
        run_id=run_id,
        step=step,
        seq=0,
        ts=timezone.now(),
        level=level,
        message=storable_text(message) or "",
        data=data,
    )


def store_log_lines(lines: Sequence[LogLine], *, first_seq: int) -> None:
    """Number `lines` from `first_seq` on, insert them in one statement and emit their `run.log` events
    after commit. The caller holds the numbers (it took them from `Run.log_seq` in this transaction)."""
    if not lines:
        return
    for offset, line in enumerate(lines):
        line.seq = first_seq + offset
        if line.step is not None:
            line.step_id = line.step.pk
    insert_rows(lines)
    for line in lines:
        emit_run_event(line.run_id, log_line_event(line))


def write_log(*, run: Run, step: Step | None = None, level: str, message: str, data: Any = None) -> LogLine:
    """Append a line to `run`'s log and emit `run.log` after commit.

    The sequence number comes from `Run.log_seq`, incremented with an UPDATE inside the same transaction as
    the insert: the UPDATE holds the run row's lock (PostgreSQL) or the database write lock (SQLite,
    IMMEDIATE transactions), so concurrent writers (the engine and an API call such as stop) get distinct,
    gap-free numbers, and a rolled-back insert rolls its number back too.
    """
    line = new_log_line(run_id=run.pk, step=step, level=level, message=message, data=data)
    with transaction.atomic():
        line.seq = _next_seq(run.pk)
        line.save(force_insert=True)
        if line.level in WARNING_LEVELS and not run.has_warnings:
            Run.objects.filter(pk=run.pk).update(has_warnings=True)
            run.has_warnings = True
    run.log_seq = line.seq
    emit_run_event(run.pk, log_line_event(line))
    return line
