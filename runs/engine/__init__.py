"""The run engine: executes a claimed run from its checkpoint (DESIGN section 3)."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connection

from runs.engine.runner import LeaseLost, Runner
from runs.lifecycle import load_run
from runs.models import Run

logger = logging.getLogger(__name__)


def execute_run(run_id: int, *, worker_id: str) -> None:
    """Execute run `run_id`, which `worker_id` has claimed (status running, lease owned), from its checkpoint.

    Runs until the run ends (succeeded, failed, stopped, partial_success), a stop is honoured after a step,
    or a step must wait for a retry: then the run goes back to `queued` with `available_at` = the step's next
    attempt time, its lease released and its checkpoint kept. Returns quietly when the run is not this
    worker's (never claimed, or the lease was lost to a sweeper). Never raises for anything a flow does; an
    unexpected engine exception fails the run with an error log line.
    """
    run = load_run(run_id)
    if run is None or run.status != Run.Status.RUNNING or run.lease_owner != worker_id:
        return
    execute_claimed_run(run, worker_id=worker_id)


def execute_claimed_run(run: Run, *, worker_id: str) -> None:
    """`execute_run` for the `Run` that `runs.lifecycle.claim_run` just returned (no second read)."""
    run_id = run.pk
    runner = Runner(run, worker_id=worker_id)
    try:
        runner.execute()
    except LeaseLost:
        logger.warning("Run %s: lease lost by %s; another worker resumes it", run_id, worker_id)
    except (OperationalError, InterfaceError):
        # The database connection broke (dropped, server restarted): the run keeps its checkpoint and its
        # lease, which expires, and the sweep re-queues it; failing it would turn an outage into lost work.
        logger.exception("Run %s: database unavailable; abandoned until its lease expires", run_id)
        if not connection.in_atomic_block:
            connection.close()  # this thread's next run opens a fresh connection
    except Exception as exc:
        logger.exception("Run %s: unexpected engine error", run_id)
        try:
            runner.fail_unexpectedly(exc)
        except LeaseLost:
            logger.warning("Run %s: lease lost while failing it", run_id)
        except Exception:
            logger.exception("Run %s: could not record the engine error", run_id)


__all__ = ["execute_claimed_run", "execute_run"]
