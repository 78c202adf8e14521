"""Frames within a size limit: a websocket frame of a megabyte or more is refused by clients and proxies
(and an upstream error or a script's print can make a log line that large), so long texts are cut in the
frame with a pointer to the REST API, which serves them whole.

- A `run.log` line whose message is longer than LINE_MESSAGE_LIMIT characters carries the first ones,
  `"message_truncated": true`, `"message_length"` (the full length) and `"full_url"` (the
  `GET /api/runs/{id}/logs/` page holding the whole line).
- The `error` of a `run.step` event's step or of a `run.status` event is cut the same way
  (`error_truncated`; the run detail holds it whole).
- A `run.snapshot` larger than FRAME_LIMIT bytes drops its oldest lines (`logs_truncated`, as with the
  5,000-line cap), then its oldest steps (`steps_truncated`), until it fits.
- A `run.logs` batch frame is split into several frames within FRAME_LIMIT.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings


def frame_limit() -> int:
    """The largest frame the consumers send, in bytes (PATCHBAY_WEBSOCKET_FRAME_LIMIT, 512 KiB)."""
    return int(getattr(settings, "PATCHBAY_WEBSOCKET_FRAME_LIMIT", 512 * 1024))


def line_message_limit() -> int:
    """Characters of a log line's message (or a step's error) a frame carries: a sixteenth of a frame,
    so a batch of lines still packs many lines into one frame."""
    return max(frame_limit() // 16, 256)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def bounded_line(line: dict[str, Any]) -> dict[str, Any]:
    """`line` (a `run.log` event) with its message cut to `line_message_limit()` characters."""
    message = line.get("message")
    limit = line_message_limit()
    if not isinstance(message, str) or len(message) <= limit:
        return line
    seq = line.get("seq")
    after = seq - 1 if isinstance(seq, int) and seq > 0 else 0
    return {
        **line,
        "message": message[:limit],
        "message_truncated": True,
        "message_length": len(message),
        "full_url": f"/api/runs/{line.get('run')}/logs/?after={after}&limit=1",
    }


def bounded_event(event: dict[str, Any], *, run_id: Any) -> dict[str, Any]:
    """`event` (`run.step` or `run.status`) with a step's or the run's error cut to `line_message_limit()`
    characters; the run detail (`full_url`) holds it whole."""
    limit = line_message_limit()
    full_url = f"/api/runs/{run_id}/"
    step = event.get("step")
    if isinstance(step, dict) and isinstance(step.get("error"), str) and len(step["error"]) > limit:
        step = {**step, "error": step["error"][:limit], "error_truncated": True}
        return {**event, "step": step, "full_url": full_url}
    error = event.get("error")
    if isinstance(error, str) and len(error) > limit:
        return {**event, "error": error[:limit], "error_truncated": True, "full_url": full_url}
    return event


def encoded_snapshot(snapshot: dict[str, Any]) -> str:
    """The JSON text of a `run.snapshot` within `frame_limit()`: lines cut, then the oldest lines and steps
    dropped (halving what is kept) until it fits. `last_seq` stays: the lines dropped are older ones."""
    limit = frame_limit()
    logs = [bounded_line(line) for line in snapshot.get("logs") or []]
    steps = list(snapshot.get("steps") or [])
    snapshot = {**snapshot, "logs": logs}
    text = json.dumps(snapshot)
    while _size(text) > limit and logs:
        logs = logs[len(logs) // 2 + 1 :] if len(logs) > 1 else []
        snapshot = {**snapshot, "logs": logs, "logs_truncated": True}
        text = json.dumps(snapshot)
    while _size(text) > limit and steps:
        steps = steps[len(steps) // 2 + 1 :] if len(steps) > 1 else []
        snapshot = {**snapshot, "steps": steps, "steps_truncated": True}
        text = json.dumps(snapshot)
    return text


def groups_within_limit(texts: list[str]) -> Iterator[list[str]]:
    """`texts` (encoded lines) in consecutive groups whose joined size stays within `frame_limit()`."""
    limit = frame_limit() - 200  # the frame's own envelope
    group: list[str] = []
    size = 0
    for text in texts:
        length = _size(text) + 2
        if group and size + length > limit:
            yield group
            group, size = [], 0
        group.append(text)
        size += length
    if group:
        yield group
