"""The one way run events leave the process: after the surrounding transaction commits, to the channel
layer groups `run_<id>` (watchers of one run) and `runs` (the runs feed), as DESIGN section 8 describes.

Events are plain dicts with a `type` of `run.log`, `run.step` or `run.status`; the consumers forward them
to browsers unchanged. Sending never raises into the engine: a channel layer that is down costs live
updates, not runs (the history API and a resume fill the gap from the database).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

RUNS_FEED_GROUP = "runs"


def run_group(run_id: int) -> str:
    return f"run_{run_id}"


def _send(groups: list[str], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            # Channels needs the handler name in "type": run.log -> run_log on the consumer.
            async_to_sync(layer.group_send)(group, event)
        except Exception:
            logger.warning("Could not send %s to %s", event.get("type"), group, exc_info=True)


def emit_run_event(run_id: int, event: dict[str, Any]) -> None:
    """Send `event` to the run's watchers after commit; `run.status` also goes to the runs feed."""
    event = {**event, "run": run_id} if "run" not in event else event
    groups = [run_group(run_id)]
    if event.get("type") == "run.status":
        groups.append(RUNS_FEED_GROUP)
    transaction.on_commit(lambda: _send(groups, event))
