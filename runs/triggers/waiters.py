"""In-process wake-ups for webhook callers waiting on a run (the `final_payload` response mode).

The database stays the truth: a waiter re-reads the run after every wake-up and also polls, so a run executed
by another process (Celery workers, a second server) is seen too, only a little later. Within one server
process the embedded executor calls `notify_run_finished` as soon as the engine returns, which spares the
caller most of the polling latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

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


async def wait_for_run_change(run_id: int, timeout: float) -> bool:
    """Sleep until `notify_run_finished(run_id)` or `timeout` seconds. True when woken by a notification."""
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    entry = (loop, event)
    with _lock:
        _waiters.setdefault(run_id, set()).add(entry)
    try:
        await asyncio.wait_for(event.wait(), timeout)
        return True
    except TimeoutError:
        return False
    finally:
        with _lock:
            entries = _waiters.get(run_id)
            if entries is not None:
                entries.discard(entry)
                if not entries:
                    del _waiters[run_id]
