"""Run history retention: old run log lines and old payloads (rows and stored files) of finished runs are
removed.

`prune_runs` is called by `manage.py prune_runs`, the embedded scheduler and Celery beat. Runs, steps and
attempts stay: the run list and run detail remain, only the bulky history goes.

Only runs in a final state are touched: a run waiting for a step retry, or queued behind a concurrency
limit, longer than the retention time resumes from payloads it still needs. A stored file (runs.payloads)
is shared by every row, work item and checkpoint holding the same text, so it is deleted only when none of
them refers to it any more and it has not been used for the retention time.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from flowstore.services import prune_expired
from runs.models import LogLine, Payload, PayloadContent, Run, WorkItem

logger = logging.getLogger(__name__)

# Rows deleted per transaction: short transactions keep SQLite's write lock (and PostgreSQL's row locks)
# brief for the executors writing beside the prune.
BATCH_SIZE = 2000


def prune_runs(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete log lines older than PATCHBAY_LOG_RETENTION_DAYS and payloads older than
    PATCHBAY_PAYLOAD_RETENTION_HOURS of runs in a final state, and the stored files nothing refers to.

    Returns the counts removed: `{"log_lines", "payloads", "payload_files"}`. A payload file that is
    already gone from storage is not an error.
    """
    now = now or timezone.now()
    log_cutoff = now - datetime.timedelta(days=settings.PATCHBAY_LOG_RETENTION_DAYS)
    payload_cutoff = now - datetime.timedelta(hours=settings.PATCHBAY_PAYLOAD_RETENTION_HOURS)
    # A stored text a writer has just stored or reused is referenced only from its memory until its step's
    # checkpoint commits: it stays for at least the grace time, whatever the retention.
    file_cutoff = min(
        payload_cutoff, now - datetime.timedelta(seconds=settings.PATCHBAY_PAYLOAD_FILE_GRACE_SECONDS)
    )

    removed = {"log_lines": 0, "payloads": 0, "payload_files": 0}
    old_lines = LogLine.objects.filter(ts__lt=log_cutoff, run__status__in=Run.TERMINAL)
    while True:
        ids = list(old_lines.values_list("id", flat=True)[:BATCH_SIZE])
        if not ids:
            break
        with transaction.atomic():
            removed["log_lines"] += LogLine.objects.filter(id__in=ids).delete()[0]

    old_payloads = Payload.objects.filter(created_at__lt=payload_cutoff, run__status__in=Run.TERMINAL)
    while True:
        batch = list(old_payloads.values_list("id", "file")[:BATCH_SIZE])
        if not batch:
            break
        with transaction.atomic():
            removed["payloads"] += Payload.objects.filter(id__in=[pk for pk, _ in batch]).delete()[0]
        # Files go after their rows: a crash in between leaves an orphan file, never a row whose
        # download fails.
        removed["payload_files"] += _delete_unreferenced_files(
            {name for _, name in batch if name}, payload_cutoff
        )
    # Stored texts no row refers to (a run's rows were deleted with it, or a writer stored the text and
    # crashed before its row): gone once they have not been used for the retention time.
    idle = set(PayloadContent.objects.filter(last_used_at__lt=file_cutoff).values_list("name", flat=True))
    removed["payload_files"] += _delete_unreferenced_files(idle, file_cutoff)
    prune_expired(now=now)  # expired cache entries and de-dupe keys (flowstore logs its own counts)
    if any(removed.values()):
        logger.info("Pruned run history: %s", removed)
    return removed


def _names_in(values: Iterable[object], names: set[str]) -> set[str]:
    """Which of `names` the JSON values (work items, checkpoints) mention."""
    found: set[str] = set()
    for value in values:
        text = json.dumps(value)
        found.update(name for name in names if name in text)
    return found


def _referenced(names: set[str]) -> set[str]:
    """Which of `names` a work item, a checkpoint or a Payload row still refers to.

    Work items and checkpoints are read before Payload rows: the engine moves a reference from a work item
    to the step's input row in one transaction, so a reference moving during this read is seen in one
    place or the other, never in neither.
    """
    found = _names_in(WorkItem.objects.values_list("data", flat=True).iterator(), names)
    found |= _names_in(
        Run.objects.exclude(checkpoint={}).values_list("checkpoint", flat=True).iterator(), names - found
    )
    rest = list(names - found)
    for start in range(0, len(rest), 500):
        chunk = rest[start : start + 500]
        rows = Payload.objects.filter(file__in=chunk).values_list("file", flat=True).distinct()
        found.update(str(name) for name in rows)
    return found


def _delete_unreferenced_files(names: set[str], cutoff: datetime.datetime) -> int:
    if not names:
        return 0
    storage = Payload._meta.get_field("file").storage
    deleted = 0
    for name in names - _referenced(names):
        # The conditional delete decides a race with a writer reusing the text now (runs.payloads): it
        # either marked the file as used first (nothing deleted here), or finds the row gone and stores the
        # text again under a new name.
        tracked = PayloadContent.objects.filter(name=name)
        if tracked.exists() and not tracked.filter(last_used_at__lt=cutoff).delete()[0]:
            continue
        try:
            if storage.exists(name):
                storage.delete(name)
                deleted += 1
        except OSError:
            logger.warning("Could not delete payload file %s", name, exc_info=True)
    return deleted
