"""Wake-ups for webhook callers waiting on a run (the `final_payload` response mode).

The database stays the truth. Two sources of wake-ups, so that a waiter never polls:

- within one server process, `runs.signals.run_finished` (sent by runs.lifecycle after the run's end has
  committed) wakes the run's waiters with the run's final state, which they answer with as it is: no read;
- with a channel layer that spans processes (Redis: Celery workers, several servers), the caller joins the
  run's event group and wakes on its `run.status` events (runs.events sends them after commit), then reads
  the run once.

A waiter still re-reads the run after a long quiet spell (runs.triggers.webhook.SAFETY_RECHECK_SECONDS), in
case a wake-up was lost with a channel-layer message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from prometheus_client import Counter

from runs.events import run_group
from runs.metrics import REGISTRY
from runs.models import Run
from runs.signals import run_finished

logger = logging.getLogger(__name__)

# What ended each wait of a final_payload webhook caller: `local` (the run ended in this process), `event`
# (a run.status event through the channel layer) or `timeout` (the safety re-check interval passed).
WAITER_WAKEUPS = Counter(
    "patchbay_webhook_waiter_wakeups",
    "Waits of final_payload webhook callers by what ended them",
    ["source"],
    registry=REGISTRY,
)

_lock = threading.Lock()
_waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, RunWake]]] = {}


class RunWake:
    """One waiter's wake-up: set from any thread, optionally with the run's final state."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.state: dict[str, Any] | None = None

    def set(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.state = state
        self.event.set()


def final_state(run: Run) -> dict[str, Any]:
    """What a waiter needs of an ended run (the fields `runs.triggers.webhook` reads from the row)."""
    return {"id": run.pk, "status": run.status, "final_payload": run.final_payload, "error": run.error}


def notify_run_finished(run_id: int, state: dict[str, Any] | None = None) -> None:
    """Wake every coroutine of this process waiting on `run_id`, handing them `state` (the committed final
    state) when given. Safe to call from any thread."""
    with _lock:
        waiters = list(_waiters.get(run_id, ()))
    for loop, wake in waiters:
        # The waiter's loop may have ended meanwhile; nobody is left to wake then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake.set, state)


def _wake_on_run_finished(sender: Any, run: Run, **kwargs: Any) -> None:
    notify_run_finished(run.pk, final_state(run))


run_finished.connect(_wake_on_run_finished, dispatch_uid="runs.triggers.waiters")


class Waiting:
    """Registered for the wake-ups of `run_id` from creation to `close()`: register before reading the
    run, so that an end committed in between is not missed."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.loop = asyncio.get_running_loop()
        self.wake = RunWake()
        self.entry = (self.loop, self.wake)
        with _lock:
            _waiters.setdefault(run_id, set()).add(self.entry)

    def close(self) -> None:
        with _lock:
            entries = _waiters.get(self.run_id)
            if entries is not None:
                entries.discard(self.entry)
                if not entries:
                    del _waiters[self.run_id]


class RunEventSubscription:
    """The caller's channel in the run event groups of a cross-process channel layer (none in-memory:
    events sent from executor threads of this process are covered by `notify_run_finished`).

    One receive runs for the subscription's whole life and flags each `run.status` (`status_seen`):
    channels_redis' pub/sub layer, the one production uses, unsubscribes a channel whenever a receive on
    it is cancelled and drops what arrives meanwhile, so a receive per wait lost the events between two
    waits (the caller then only woke by polling). `close` cancels that receive, which is also how the
    pub/sub layer releases the channel's Redis subscription, and leaves the groups.
    """

    def __init__(self) -> None:
        layer = get_channel_layer()
        self.layer: BaseChannelLayer | None = (
            layer if layer is not None and not isinstance(layer, InMemoryChannelLayer) else None
        )
        self.channel: str | None = None
        self.groups: set[str] = set()
        self.watched_runs: set[int] = set()
        self.status_seen = asyncio.Event()
        self._receiver: asyncio.Task[None] | None = None

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
            return
        if self._receiver is None:
            self._receiver = asyncio.get_running_loop().create_task(self._receive_events())

    async def _receive_events(self) -> None:
        layer, channel = self.layer, self.channel
        assert layer is not None and channel is not None
        try:
            while True:
                message = await layer.receive(channel)
                if message.get("type") == "run.status":
                    self.status_seen.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("Run event subscription failed; polling instead", exc_info=True)
            self.layer = None
            self.status_seen.set()  # wake the caller to poll

    async def close(self) -> None:
        """Stop receiving (releasing the channel) and leave the groups."""
        if self._receiver is not None:
            self._receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._receiver
            self._receiver = None
        layer, channel = self.layer, self.channel
        if layer is None or channel is None:
            return
        for group in self.groups:
            with contextlib.suppress(Exception):
                await layer.group_discard(group, channel)
        self.groups.clear()
        # channels_redis' list-based layer buffers messages per process-local channel until someone
        # receives them; events that reached this channel after its last receive would stay there for the
        # life of the process.
        buffers = getattr(layer, "receive_buffer", None)
        if isinstance(buffers, dict):
            buffers.pop(channel, None)
        self.channel = None


async def wait_for_run_change(
    run_id: int,
    timeout: float,
    subscription: RunEventSubscription | None = None,
    waiting: Waiting | None = None,
) -> bool:
    """Sleep until run `run_id` may have changed (a notification or a status event) or `timeout` seconds.

    True when woken before the timeout. `waiting` is a registration made earlier (kept open across calls;
    `waiting.wake.state` holds the final state an in-process notification handed over); without it one is
    made for this call.
    """
    loop = asyncio.get_running_loop()
    own = waiting is None
    waiting = waiting if waiting is not None else Waiting(run_id)
    if waiting.wake.state is not None:
        WAITER_WAKEUPS.labels(source="local").inc()
        return True
    waiting.wake.event.clear()
    local = loop.create_task(waiting.wake.event.wait())
    tasks: list[asyncio.Task[Any]] = [local]
    if subscription is not None and subscription.active:
        tasks.append(loop.create_task(subscription.status_seen.wait()))
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if subscription is not None and len(tasks) > 1 and tasks[1] in done:
            subscription.status_seen.clear()  # the caller re-reads the run now
        WAITER_WAKEUPS.labels(source="local" if local in done else "event" if done else "timeout").inc()
        return bool(done)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        if own:
            waiting.close()
