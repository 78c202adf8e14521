"""The run log: ordered lines per run with gap-free sequence numbers."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from runs.events import emit_run_event
from runs.models import LogLine, Run, Step
from runs.payloads import storable_text


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
        Run.objects.filter(pk=run.pk).update(log_seq=F("log_seq") + 1)
        seq = Run.objects.filter(pk=run.pk).values_list("log_seq", flat=True).get()
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
