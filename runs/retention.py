"""Run history retention: old run log lines and old payloads (rows and stored files) are removed.

`prune_runs` is called by `manage.py prune_runs`, the embedded scheduler and Celery beat. Runs, steps and
attempts stay: the run list and run detail remain, only the bulky history goes.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from flowstore.services import prune_expired
from runs.models import LogLine, Payload

logger = logging.getLogger(__name__)

# Rows deleted per transaction: short transactions keep SQLite's write lock (and PostgreSQL's row locks)
# brief for the executors writing beside the prune.
BATCH_SIZE = 2000


def prune_runs(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete log lines older than PATCHBAY_LOG_RETENTION_DAYS and payloads older than
    PATCHBAY_PAYLOAD_RETENTION_HOURS, with their files in storage.

    Returns the counts removed: `{"log_lines", "payloads", "payload_files"}`. A payload file that is
    already gone from storage is not an error.
    """
    now = now or timezone.now()
    log_cutoff = now - datetime.timedelta(days=settings.PATCHBAY_LOG_RETENTION_DAYS)
    payload_cutoff = now - datetime.timedelta(hours=settings.PATCHBAY_PAYLOAD_RETENTION_HOURS)

    removed = {"log_lines": 0, "payloads": 0, "payload_files": 0}
    while True:
        ids = list(LogLine.objects.filter(ts__lt=log_cutoff).values_list("id", flat=True)[:BATCH_SIZE])
        if not ids:
            break
        with transaction.atomic():
            removed["log_lines"] += LogLine.objects.filter(id__in=ids).delete()[0]

    while True:
        batch = list(
            Payload.objects.filter(created_at__lt=payload_cutoff).values_list("id", "file")[:BATCH_SIZE]
        )
        if not batch:
            break
        with transaction.atomic():
            removed["payloads"] += Payload.objects.filter(id__in=[pk for pk, _ in batch]).delete()[0]
        # Files go after their rows: a crash in between leaves an orphan file, never a row whose
        # download fails.
        storage = Payload._meta.get_field("file").storage
        for _, name in batch:
            if not name:
                continue
            try:
                if storage.exists(name):
                    storage.delete(name)
                    removed["payload_files"] += 1
            except OSError:
                logger.warning("Could not delete payload file %s", name, exc_info=True)
    prune_expired(now=now)  # expired cache entries and de-dupe keys (flowstore logs its own counts)
    if any(removed.values()):
        logger.info("Pruned run history: %s", removed)
    return removed
