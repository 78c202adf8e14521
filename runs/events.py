"""The one way run events leave the process: after the surrounding transaction commits, to the channel
layer groups `run_<id>` (watchers of one run) and `runs` (the runs feed), as DESIGN section 8 describes.

Events are plain dicts with a `type` of `run.log`, `run.step` or `run.status`; the consumers forward them
to browsers unchanged. Sending never raises into the engine and never waits for a watcher: a channel layer
that is down or a browser that reads slowly costs live updates, not runs (the consumers heal gaps from the
database, and the history API and a resume serve the same lines afterwards).

Delivery happens on an event loop, in the order the events were emitted in this process:

- in-memory layer: the loop the websocket consumers run on (the ASGI server's loop). Its queues are
  asyncio queues and not thread-safe, so executor threads hand events over with `call_soon_threadsafe`
  instead of calling the layer from a loop of their own.
- any other layer (channels-redis): one background loop thread per process, so Celery workers and executor
  threads do not open a connection (or an event loop) per event.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import transaction

if TYPE_CHECKING:
    from runs.models import Run

logger = logging.getLogger(__name__)

RUNS_FEED_GROUP = "runs"
# Consecutive `run.log` events for the same groups that are waiting together go out as one
# `run.log.batch` message (`{"type": "run.log.batch", "run": id, "events": [...]}`) of at most this many
# lines: one channel layer send per batch instead of per line (a channels-redis group send with 50
# watchers costs milliseconds). A line that waits alone goes out as a plain `run.log`.
MAX_BATCH = 200
# After a `run.log` the sender waits this long for more lines before it sends: a run writing 1,000 lines a
# second then costs each web process (and each watcher) about 100 messages a second instead of 1,000, for
# at most this much added latency.
LOG_LINGER_SECONDS = 0.01


def run_group(run_id: int) -> str:
    return f"run_{run_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_status_event(run: Run) -> dict[str, Any]:
    """The `run.status` event for `run` as it is now (DESIGN section 8)."""
    return {
        "type": "run.status",
        "run": run.pk,
        "flow": run.flow_id,
        "flow_version": run.flow_version_id,
        "status": run.status,
        "trigger": run.trigger,
        "attempt": run.attempt,
        "priority": run.priority,
        "retry_of": run.retry_of_id,
        "parent_run": run.parent_run_id,
        "queued_at": _iso(run.queued_at),
        "available_at": _iso(run.available_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "stop_requested": run.stop_requested,
        "error": run.error,
        "insights": run.insights,
        "is_test": run.is_test,
    }


def log_line_event(line: Any) -> dict[str, Any]:
    """The `run.log` event of a `runs.models.LogLine`: what the engine emits and what consumers replay."""
    return {
        "type": "run.log",
        "run": line.run_id,
        "seq": line.seq,
        "ts": line.ts.isoformat(),
        "level": line.level,
        "step": line.step_id,
        "message": line.message,
    }


@dataclass
class _Outbox:
    """Events waiting to be sent on one loop; a single drain task keeps them in emission order."""

    queue: asyncio.Queue[tuple[BaseChannelLayer, list[str], dict[str, Any]]] = field(
        default_factory=asyncio.Queue
    )
    task: asyncio.Task[None] | None = None


_outboxes: dict[asyncio.AbstractEventLoop, _Outbox] = {}
_consumer_loop: asyncio.AbstractEventLoop | None = None
_background_loop: asyncio.AbstractEventLoop | None = None
_background_pid: int | None = None
_background_lock = threading.Lock()


def register_consumer_loop() -> None:
    """Called by the websocket consumers (on their loop): in-memory events are delivered on this loop."""
    global _consumer_loop
    _consumer_loop = asyncio.get_running_loop()


def _batched(
    items: list[tuple[BaseChannelLayer, list[str], dict[str, Any]]],
) -> list[tuple[BaseChannelLayer, list[str], dict[str, Any]]]:
    """Merge runs of consecutive `run.log` events for the same layer and groups; order is kept."""
    merged: list[tuple[BaseChannelLayer, list[str], list[dict[str, Any]]]] = []
    for layer, groups, event in items:
        if merged and event.get("type") == "run.log":
            last_layer, last_groups, last_events = merged[-1]
            if (
                last_layer is layer
                and last_groups == groups
                and last_events[-1].get("type") == "run.log"
                and len(last_events) < MAX_BATCH
            ):
                last_events.append(event)
                continue
        merged.append((layer, groups, [event]))
    messages = []
    for layer, groups, events in merged:
        if len(events) == 1:
            messages.append((layer, groups, events[0]))
        else:
            batch = {"type": "run.log.batch", "run": events[0].get("run"), "events": events}
            messages.append((layer, groups, batch))
    return messages


async def _drain(outbox: _Outbox) -> None:
    while True:
        items = [await outbox.queue.get()]
        if items[0][2].get("type") == "run.log" and outbox.queue.empty():
            await asyncio.sleep(LOG_LINGER_SECONDS)
        while not outbox.queue.empty():
            items.append(outbox.queue.get_nowait())
        try:
            for layer, groups, message in _batched(items):
                for group in groups:
                    try:
                        await layer.group_send(group, message)
                    except Exception:
                        logger.warning("Could not send %s to %s", message.get("type"), group, exc_info=True)
        finally:
            for _ in items:
                outbox.queue.task_done()


def _enqueue(layer: BaseChannelLayer, groups: list[str], event: dict[str, Any]) -> None:
    """Runs on the target loop's thread."""
    loop = asyncio.get_running_loop()
    outbox = _outboxes.get(loop)
    if outbox is None or outbox.task is None or outbox.task.done():
        outbox = _outboxes[loop] = _Outbox()
        outbox.task = loop.create_task(_drain(outbox))
    outbox.queue.put_nowait((layer, groups, event))


def _run_background_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def _get_background_loop() -> asyncio.AbstractEventLoop:
    """This process's sender loop; a forked child (a Celery prefork worker) starts its own."""
    global _background_loop, _background_pid
    with _background_lock:
        if _background_loop is None or _background_pid != os.getpid() or _background_loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=_run_background_loop, args=(loop,), name="patchbay-run-events", daemon=True
            )
            thread.start()
            _background_loop, _background_pid = loop, os.getpid()
        return _background_loop


def _send(groups: list[str], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # Only to groups someone joined: a run nobody watches costs no send (a dozen per run, each a hop to
        # the consumers' loop), while the runs feed still gets every status event once someone watches it.
        # Reading the groups from this thread races with a watcher joining; the consumer loads its
        # snapshot after joining, so an event missed here is in that snapshot.
        joined = [group for group in groups if layer.groups.get(group)]
        if not joined:
            return
        loop = _consumer_loop
        if loop is None or loop.is_closed():
            # No consumer ever ran in this process: the listeners are tests on the layer itself.
            _send_now(layer, joined, event)
            return
        groups = joined
    else:
        loop = _get_background_loop()
    try:
        loop.call_soon_threadsafe(_enqueue, layer, groups, event)
    except RuntimeError:
        # The loop closed between the check and the call (a server shutting down).
        logger.warning("Dropped %s: its event loop is closed", event.get("type"))


def _send_now(layer: BaseChannelLayer, groups: Iterable[str], event: dict[str, Any]) -> None:
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:
            logger.warning("Could not send %s to %s", event.get("type"), group, exc_info=True)


def emit_run_event(run_id: int, event: dict[str, Any]) -> None:
    """Send `event` to the run's watchers after commit; `run.status` also goes to the runs feed.

    Returns at once: the event is queued for this process's sender loop, never awaited.
    """
    event = {**event, "run": run_id} if "run" not in event else event
    groups = [run_group(run_id)]
    if event.get("type") == "run.status":
        groups.append(RUNS_FEED_GROUP)
    transaction.on_commit(lambda: _send(groups, event))


def flush_run_events(timeout: float = 5.0) -> bool:
    """Wait until the events queued on this process's background sender have gone out.

    Short-lived processes (management commands, a worker shutting down) call it, and it runs at exit.
    Returns False when they did not all go out within `timeout` seconds.
    """
    loop = _background_loop
    if loop is None or loop.is_closed() or _background_pid != os.getpid():
        return True

    async def _wait() -> None:
        outbox = _outboxes.get(loop)
        if outbox is not None:
            await outbox.queue.join()

    try:
        asyncio.run_coroutine_threadsafe(_wait(), loop).result(timeout)
    except TimeoutError:
        return False
    return True


atexit.register(flush_run_events)
