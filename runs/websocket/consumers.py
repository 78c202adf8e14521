"""Websocket consumers (DESIGN section 8): one run's live log at /ws/runs/{id}/, the runs feed at /ws/runs/.

Close codes a client can act on: 4401 not signed in (no session, bad token), 4403 signed in without a
role, 4404 unknown run, 4429 too many wrong tokens from this address (runs/websocket/auth.py).
Cross-origin handshakes are rejected before they get here (config/asgi.py).

Gap-free, duplicate-free delivery of a run's log
------------------------------------------------
Log lines carry gap-free sequence numbers (runs.logs.write_log), so the consumer only has to remember the
last seq it sent (`last_seq`):

- It joins the run's group before it reads the snapshot. A consumer handles one message at a time, so
  events that arrive while the snapshot is being read wait in the channel layer's queue for this consumer
  (that queue is the buffer); once the snapshot is out they are handled in order and every line with
  `seq <= last_seq` (already in the snapshot) is dropped.
- A line with `seq > last_seq + 1` means the layer lost or reordered events (in-memory and Redis layers
  drop messages for a full channel): the missing lines are read from the database and sent first. Lines
  are committed in seq order (write_log holds the run row's lock until commit), so every line below a
  line whose event arrived is already readable.
- `run.status` first sends any lines the database has beyond `last_seq`, so lost events at the end of a
  run are healed before the final status.
- The last lines of a burst have no later line to reveal that they were lost, so a tail check runs once
  the stream has been quiet for TAIL_CHECK_DELAY seconds: it goes through this consumer's own channel (so
  it is handled in turn with the events, never beside them) and sends what the database has beyond
  `last_seq`, then the run's status if it differs from the last one sent (a lost final `run.status`).
- `{"type": "resume", "after": SEQ}` moves the cursor: every line after SEQ is sent from the database,
  then the live stream continues after the last one sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config import json_input
from runs import events
from runs.metrics import WEBSOCKET_WATCHERS
from runs.models import Run
from runs.websocket import frames, state

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_RUN = 4404
CLOSE_THROTTLED = 4429
TERMINAL_STATUSES = {str(status) for status in Run.TERMINAL}
# Quiet time after the last event before the database is checked for lines whose events were lost.
TAIL_CHECK_DELAY = 0.25


async def _refusal_code(scope: dict[str, Any]) -> int | None:
    if scope.get("patchbay_token_throttled"):
        return CLOSE_THROTTLED
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return CLOSE_UNAUTHENTICATED
    if not await state.user_may_watch(user):
        return CLOSE_FORBIDDEN
    return None


class _EventConsumer(AsyncJsonWebsocketConsumer):
    # The `route` label of patchbay_websocket_watchers; a socket counts from its accepted connect (not a
    # refused one, which is accepted only to carry its close code) until it disconnects.
    watcher_route: str = ""
    _watching: bool = False

    def _start_watching(self) -> None:
        if not self._watching:
            self._watching = True
            WEBSOCKET_WATCHERS.labels(route=self.watcher_route).inc()

    def _stop_watching(self) -> None:
        if self._watching:
            self._watching = False
            WEBSOCKET_WATCHERS.labels(route=self.watcher_route).dec()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels (4.2+) closes stale database connections, a hop to the database thread, before every
        # handler. These handlers reach the database only through database_sync_to_async, which does that
        # itself, and a busy run sends thousands of messages a second to every watcher.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


# JSON text of recent `run.log` events: every watcher of a run sends the same line, so it is encoded once
# per process, not once per watcher. The key carries the line's time as well as (run, seq), so a run id
# that SQLite hands out again after the newest run was deleted cannot pick up the old run's text.
_encoded_lines: dict[tuple[Any, Any, Any], str] = {}
_ENCODED_LINES_MAX = 20000


def _encoded_line(line: dict[str, Any]) -> str:
    key = (line.get("run"), line.get("seq"), line.get("ts"))
    text = _encoded_lines.get(key)
    if text is None:
        if len(_encoded_lines) >= _ENCODED_LINES_MAX:
            _encoded_lines.clear()
        text = _encoded_lines[key] = json.dumps(frames.bounded_line(line))
    return text


class RunConsumer(_EventConsumer):
    """Streams one run: `run.snapshot`, then `run.log`, `run.step` and `run.status` as they happen.

    Query string: `after=SEQ` limits the snapshot's log lines to those after SEQ (a reconnecting client
    that already has them). `batch=1` lets the consumer send lines that are ready together as one frame,
    `{"type": "run.logs", "run": id, "lines": [run.log, ...]}`, instead of one `run.log` frame per line:
    a busy run then costs a browser (and the server) a frame per burst, not per line.
    """

    watcher_route = "run"
    run_id: int
    group: str | None = None
    last_seq: int = 0
    last_status: str | None = None
    batch_frames: bool = False
    _last_activity: float = 0.0
    _tail_timer: asyncio.TimerHandle | None = None
    _tail_request: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        events.register_consumer_loop()
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        # Accept before closing so the browser sees the close code (a rejected handshake has none).
        refusal = await _refusal_code(self.scope)
        if refusal is None and not await state.run_exists(self.run_id):
            refusal = CLOSE_UNKNOWN_RUN
        if refusal is not None:
            await self.accept()
            await self.close(code=refusal)
            return
        # Join first, read second: anything committed after the read is in the group's stream.
        self.group = events.run_group(self.run_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self._start_watching()
        self.batch_frames = self._query_param("batch") == "1"
        after = self._query_param("after")
        snapshot = await state.load_snapshot(self.run_id, after=int(after) if after.isdigit() else 0)
        if snapshot is None:
            await self.close(code=CLOSE_UNKNOWN_RUN)
            return
        self.last_seq = snapshot["last_seq"]
        self.last_status = snapshot["run"]["status"]
        await self.send(text_data=frames.encoded_snapshot(snapshot))
        # Events that arrived while the snapshot was read may have overflowed this channel.
        self._arm_tail_check()

    async def disconnect(self, code: int) -> None:
        self._stop_watching()
        if self._tail_timer is not None:
            self._tail_timer.cancel()
            self._tail_timer = None
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # --- the tail check ---------------------------------------------------------------------------------

    def _arm_tail_check(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_activity = loop.time()
        if self._tail_timer is None:
            self._tail_timer = loop.call_later(TAIL_CHECK_DELAY, self._tail_timer_fired)

    def _tail_timer_fired(self) -> None:
        loop = asyncio.get_running_loop()
        quiet_for = loop.time() - self._last_activity
        if quiet_for < TAIL_CHECK_DELAY:
            self._tail_timer = loop.call_later(TAIL_CHECK_DELAY - quiet_for, self._tail_timer_fired)
            return
        self._tail_timer = None
        self._tail_request = loop.create_task(self._request_tail_check())

    async def _request_tail_check(self) -> None:
        # A full channel means events are still coming, and each one re-arms the check.
        with contextlib.suppress(ChannelFull):
            await self.channel_layer.send(self.channel_name, {"type": "logs.tail_check"})

    async def logs_tail_check(self, event: dict[str, Any]) -> None:
        # Status first: every line committed before a final status is then visible to the lines read.
        status = await state.current_status_event(self.run_id)
        sent = await self._send_stored_lines(before=None)
        if status is not None and status["status"] != self.last_status:
            await self._send_status(status)
            sent += 1
        if sent:
            self._arm_tail_check()

    def _query_param(self, wanted: str) -> str:
        query = self.scope.get("query_string", b"").decode("latin-1")
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == wanted:
                return value
        return ""

    # --- messages from the client ---------------------------------------------------------------------

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        # Through the JSON boundary (config/json_input.py): a message nested 10,000 deep raised
        # RecursionError in the consumer; anything refused is answered like malformed JSON.
        try:
            return json_input.loads(text_data)
        except ValueError:
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "resume":
            await self.send_json({"type": "error", "detail": 'Expected {"type": "resume", "after": SEQ}.'})
            return
        after = content.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            await self.send_json({"type": "error", "detail": "`after` must be a non-negative integer."})
            return
        await self._resume(after)

    async def _resume(self, after: int) -> None:
        self.last_seq = after
        await self._send_stored_lines(before=None)

    async def _send_stored_lines(self, *, before: int | None) -> int:
        """Send the stored lines after `last_seq` (and below `before`), in order, batch by batch.

        Returns how many were sent.
        """
        sent = 0
        while True:
            lines = await state.log_events_between(self.run_id, after=self.last_seq, before=before)
            if lines:
                self.last_seq = lines[-1]["seq"]
                await self._send_lines(lines)
            sent += len(lines)
            if len(lines) < state.REPLAY_BATCH:
                return sent

    async def _send_lines(self, lines: list[dict[str, Any]]) -> None:
        texts = [_encoded_line(line) for line in lines]
        if self.batch_frames and len(texts) > 1:
            # Several frames when the lines together pass the frame limit (each line is within it).
            for group in frames.groups_within_limit(texts):
                await self.send(
                    text_data=f'{{"type": "run.logs", "run": {self.run_id}, "lines": [{", ".join(group)}]}}'
                )
            return
        for text in texts:
            await self.send(text_data=text)

    # --- events from the channel layer (runs.events.emit_run_event) --------------------------------------

    async def run_log(self, event: dict[str, Any]) -> None:
        await self._deliver([event])

    async def run_log_batch(self, event: dict[str, Any]) -> None:
        """Consecutive lines the sender merged into one layer message (runs.events.MAX_BATCH)."""
        await self._deliver(list(event.get("events") or []))

    async def _deliver(self, incoming: list[dict[str, Any]]) -> None:
        """Send live lines in order: skip those already sent, fill a gap from the database first."""
        ready: list[dict[str, Any]] = []
        for line in incoming:
            seq = line.get("seq")
            if not isinstance(seq, int) or seq <= self.last_seq:
                continue
            if seq > self.last_seq + 1:
                logger.debug(
                    "Run %s: lines %s-%s missed by the layer", self.run_id, self.last_seq + 1, seq - 1
                )
                if ready:
                    await self._send_lines(ready)
                    ready = []
                await self._send_stored_lines(before=seq)
            ready.append(line)
            self.last_seq = seq
        if ready:
            await self._send_lines(ready)
        self._arm_tail_check()

    async def run_step(self, event: dict[str, Any]) -> None:
        await self.send_json(frames.bounded_event(event, run_id=self.run_id))
        self._arm_tail_check()

    async def run_status(self, event: dict[str, Any]) -> None:
        await self._send_stored_lines(before=None)
        if event.get("status") == self.last_status and event.get("status") in TERMINAL_STATUSES:
            return  # the tail check already sent this final status from the database
        await self._send_status(event)
        self._arm_tail_check()

    async def _send_status(self, event: dict[str, Any]) -> None:
        self.last_status = event.get("status")
        await self.send_json(frames.bounded_event(event, run_id=self.run_id))


class RunsFeedConsumer(_EventConsumer):
    """`run.status` of every run, for the runs list and the canvas status overlay."""

    watcher_route = "feed"
    joined: bool = False

    async def connect(self) -> None:
        events.register_consumer_loop()
        refusal = await _refusal_code(self.scope)
        if refusal is not None:
            await self.accept()
            await self.close(code=refusal)
            return
        await self.channel_layer.group_add(events.RUNS_FEED_GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        self._start_watching()

    async def disconnect(self, code: int) -> None:
        self._stop_watching()
        if self.joined:
            await self.channel_layer.group_discard(events.RUNS_FEED_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "error", "detail": "The runs feed takes no messages."})

    async def run_status(self, event: dict[str, Any]) -> None:
        await self.send_json(frames.bounded_event(event, run_id=event.get("run")))
