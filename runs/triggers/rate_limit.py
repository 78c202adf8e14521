"""Per-flow rate limit of webhook-triggered runs: at most PATCHBAY_WEBHOOK_RUNS_PER_MINUTE runs of one flow
by webhook in any 60 seconds (0, the default, means no limit); a call beyond it gets 429 with Retry-After.

Counted from the Run rows (index `run_flow_trigger_queued`), so every web process shares one count.
"""

from __future__ import annotations

import datetime
import math

from django.conf import settings
from django.utils import timezone

from designer.models import Flow
from runs.errors import RunRefused
from runs.models import Run

WINDOW_SECONDS = 60


class WebhookRateLimited(RunRefused):
    """The flow had its PATCHBAY_WEBHOOK_RUNS_PER_MINUTE webhook runs in the last minute."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def limit_webhook_runs(flow: Flow) -> None:
    """Raise `WebhookRateLimited` when another webhook run of `flow` would pass the limit."""
    limit = int(getattr(settings, "PATCHBAY_WEBHOOK_RUNS_PER_MINUTE", 0))
    if limit <= 0:
        return
    now = timezone.now()
    recent = Run.objects.filter(
        flow=flow,
        trigger=Run.Trigger.WEBHOOK,
        queued_at__gte=now - datetime.timedelta(seconds=WINDOW_SECONDS),
    )
    times = list(recent.order_by("-queued_at").values_list("queued_at", flat=True)[:limit])
    if len(times) < limit:
        return
    # The oldest of the last `limit` runs leaves the window first.
    wait = (times[-1] + datetime.timedelta(seconds=WINDOW_SECONDS) - now).total_seconds()
    raise WebhookRateLimited(
        f"Flow '{flow.name}' had {limit} webhook runs in the last minute "
        f"(PATCHBAY_WEBHOOK_RUNS_PER_MINUTE = {limit}); try again later.",
        retry_after=max(1, math.ceil(wait)),
    )
