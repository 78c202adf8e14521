"""`manage.py prune_runs`: remove run log lines and payloads past their retention period."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from runs.retention import prune_runs


class Command(BaseCommand):
    help = (
        "Delete run log lines older than PATCHBAY_LOG_RETENTION_DAYS and payloads (with their files) "
        "older than PATCHBAY_PAYLOAD_RETENTION_HOURS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        removed = prune_runs()
        self.stdout.write(
            f"Removed {removed['log_lines']} log line(s) older than "
            f"{settings.PATCHBAY_LOG_RETENTION_DAYS} day(s), {removed['payloads']} payload(s) and "
            f"{removed['payload_files']} payload file(s) older than "
            f"{settings.PATCHBAY_PAYLOAD_RETENTION_HOURS} hour(s)."
        )
