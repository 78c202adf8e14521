"""Wake-ups for webhook callers waiting on a run (the `final_payload` response mode).

The database stays the truth: a waiter re-reads the run after every wake-up and also polls, so nothing is
missed when a wake-up is. Two sources of wake-ups spare most of the polling:

- within one server process, the embedded executor calls `notify_run_finished` as soon as the engine returns;
- with a channel layer that spans processes (Redis: Celery workers, several servers), the caller joins the
  run's event group and wakes on its `run.status` events (runs.events sends them after commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer

from runs.events import run_group

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}


def notify_run_finished(run_id: int) -> None:
    """Wake every coroutine of this process waiting on `run_id`. Safe to call from any thread."""
    with _lock:
        waiters = list(_waiters.get(run_id, ()))
    for loop, event in waiters:
        # The waiter's loop may have ended meanwhile; nobody is left to wake then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)


class RunEventSubscription:
    """The caller's channel in the run event groups of a cross-process channel layer (none in-memory:
    events sent from executor threads of this process are covered by `notify_run_finished`)."""

    def __init__(self) -> None:
        layer = get_channel_layer()
        self.layer: BaseChannelLayer | None = (
            layer if layer is not None and not isinstance(layer, InMemoryChannelLayer) else None
        )
        self.channel: str | None = None
        self.groups: set[str] = set()
        self.watched_runs: set[int] = set()

    @property
    def active(self) -> bool:
        return self.layer is not None and self.channel is not None

    async def watch(self, run_id: int) -> None:
        """Join the event group of `run_id` (call before reading the run, so no event falls in between)."""
        self.watched_runs.add(run_id)
        if self.layer is None:
            return
        group = run_group(run_id)
        if group in self.groups:
            return
        try:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
            await self.layer.group_add(group, self.channel)
            self.groups.add(group)
        except Exception:
            # No events then, only polling: slower answers, nothing lost.
            logger.warning("Cannot watch run %s through the channel layer", run_id, exc_info=True)
            self.layer = None

    async def next_status_event(self) -> dict[str, Any]:
        assert self.layer is not None and self.channel is not None
        while True:
            message = await self.layer.receive(self.channel)
            if message.get("type") == "run.status":
                return message

    async def close(self) -> None:
        if self.layer is None or self.channel is None:
            return
        for group in self.groups:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(group, self.channel)
        # channels_redis buffers messages per process-local channel until someone receives them; events
        # that reached this channel after its last receive would stay there for the life of the process.
        buffers = getattr(self.layer, "receive_buffer", None)
        if isinstance(buffers, dict):
            buffers.pop(self.channel, None)


async def wait_for_run_change(
    run_id: int, timeout: float, subscription: RunEventSubscription | None = None
) -> bool:
    """Sleep until run `run_id` may have changed (a notification or a status event) or `timeout` seconds.

    True when woken before the timeout.
    """
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    entry = (loop, event)
    with _lock:
        _waiters.setdefault(run_id, set()).add(entry)
    tasks: list[asyncio.Task[Any]] = [loop.create_task(event.wait())]
    if subscription is not None and subscription.active:
        tasks.append(loop.create_task(subscription.next_status_event()))
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is not None and subscription is not None:
                logger.warning("Run event subscription failed; polling instead", exc_info=task.exception())
                subscription.layer = None
        return bool(done)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        with _lock:
            entries = _waiters.get(run_id)
            if entries is not None:
                entries.discard(entry)
                if not entries:
                    del _waiters[run_id]
