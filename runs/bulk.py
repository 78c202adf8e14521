"""Bulk actions on runs (`POST /api/runs/bulk/`): retry or stop many runs, each on its own.

Each run is handled in its own transaction through the same services as the one-run routes, so one
refusal (a run that already ended, one already retried) never undoes what was done to the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runs import services
from runs.errors import RunRefused
from runs.models import Run
from runs.retries import FROM_START, VERSION_ORIGINAL, retry_run

ACTIONS = ("retry", "stop")
# A bulk request handles at most this many runs; a filter matching more is refused (400) so that one
# click cannot queue an unbounded number of retries.
BULK_LIMIT = 500


def apply_bulk_action(
    *,
    action: str,
    runs: Iterable[Run],
    missing_ids: Iterable[int] = (),
    user: Any = None,
    start_from: str = FROM_START,
    version: str = VERSION_ORIGINAL,
) -> dict[str, Any]:
    """Apply `action` ("retry" or "stop") to each run; returns what was done per run.

    The answer is `{"action", "results": [{"run", "outcome", "detail", "retry"?}], "counts": {outcome: n}}`
    with outcomes `retried`, `stopped` (a queued run), `stop_requested` (a running one, stops after its
    current step), `refused` (with the reason) and `not_found` (an id that names no run).
    """
    if action not in ACTIONS:
        raise ValueError(f"Unknown bulk action {action!r}")
    results: list[dict[str, Any]] = []
    for run in runs:
        try:
            if action == "retry":
                retry = retry_run(run=run, start_from=start_from, version=version, user=user)
                results.append(
                    {
                        "run": run.pk,
                        "outcome": "retried",
                        "detail": f"Queued as run {retry.pk}.",
                        "retry": retry.pk,
                    }
                )
            else:
                stopped = services.stop_run(run=run, user=user)
                if stopped.status == Run.Status.STOPPED:
                    results.append({"run": run.pk, "outcome": "stopped", "detail": "Stopped before it ran."})
                else:
                    results.append(
                        {
                            "run": run.pk,
                            "outcome": "stop_requested",
                            "detail": "Stops after its current step.",
                        }
                    )
        except RunRefused as refusal:
            results.append({"run": run.pk, "outcome": "refused", "detail": refusal.message})
    for run_id in missing_ids:
        results.append({"run": run_id, "outcome": "not_found", "detail": f"Run {run_id} does not exist."})
    counts: dict[str, int] = {}
    for result in results:
        counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
    return {"action": action, "results": results, "counts": counts}
