"""What the websocket consumers read from the database, as `database_sync_to_async` helpers."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from config import roles
from runs.api.serializers import RunSerializer, StepSerializer
from runs.events import log_line_event
from runs.models import LogLine, Run, Step
from runs.services import run_status_event

# A snapshot carries at most this many log lines (the latest ones); `logs_truncated` tells the client to
# page the earlier ones from `GET /api/runs/{id}/logs/` if it wants them.
SNAPSHOT_LOG_LIMIT = 5000
# Lines read per query when a resume or a gap needs lines from the database.
REPLAY_BATCH = 1000


@database_sync_to_async
def user_may_watch(user: Any) -> bool:
    return roles.can_read(user)


@database_sync_to_async
def run_exists(run_id: int) -> bool:
    return Run.objects.filter(pk=run_id).exists()


@database_sync_to_async
def load_snapshot(run_id: int, *, after: int = 0) -> dict[str, Any] | None:
    """`run.snapshot` for a watcher: the run, its steps and its log lines after `after`.

    None if the run was deleted in the meantime.
    """
    run = Run.objects.select_related("flow", "flow_version", "created_by").filter(pk=run_id).first()
    if run is None:
        return None
    steps = Step.objects.filter(run_id=run_id).order_by("id")
    newest_first = list(
        LogLine.objects.filter(run_id=run_id, seq__gt=after).order_by("-seq")[: SNAPSHOT_LOG_LIMIT + 1]
    )
    truncated = len(newest_first) > SNAPSHOT_LOG_LIMIT
    lines = [log_line_event(line) for line in reversed(newest_first[:SNAPSHOT_LOG_LIMIT])]
    return {
        "type": "run.snapshot",
        "run": RunSerializer(run).data,
        "steps": StepSerializer(steps, many=True).data,
        "logs": lines,
        "logs_truncated": truncated,
        "last_seq": lines[-1]["seq"] if lines else after,
    }


@database_sync_to_async
def log_events_between(run_id: int, *, after: int, before: int | None = None) -> list[dict[str, Any]]:
    """Up to REPLAY_BATCH `run.log` events with `after < seq < before`, in order."""
    lines = LogLine.objects.filter(run_id=run_id, seq__gt=after)
    if before is not None:
        lines = lines.filter(seq__lt=before)
    return [log_line_event(line) for line in lines.order_by("seq")[:REPLAY_BATCH]]


@database_sync_to_async
def current_status_event(run_id: int) -> dict[str, Any] | None:
    """The `run.status` event for the run as stored now (None if it was deleted)."""
    run = Run.objects.filter(pk=run_id).first()
    return run_status_event(run) if run is not None else None
