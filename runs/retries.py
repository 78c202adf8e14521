"""Manual retries of finished runs: from the start or from the failed step, with the original or the
deployed flow version (DESIGN section 7, `POST /api/runs/{id}/retry/`).

A run is retried at most once. The unique constraint `one_retry_per_run` on `Run.retry_of` decides races:
of several concurrent requests exactly one INSERT succeeds, the others get `RunRefused` (409), whichever
process they run in.

From the failed step: a failed run keeps its last checkpoint (the runner leaves its state and its pending
work items in place, the failed one included). The new run gets a copy of both, so the executor resumes it
there: the steps that succeeded are not executed again and their recorded outputs feed the failed step.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from designer.models import FlowVersion
from runs import lifecycle
from runs.engine.graph import Graph
from runs.errors import RunRefused
from runs.logs import write_log
from runs.models import LogLine, Run, Step, WorkItem
from runs.payloads import touch_payload_file

FROM_START = "start"
FROM_FAILED_STEP = "failed_step"
VERSION_ORIGINAL = "original"
VERSION_DEPLOYED = "deployed"
RETRY_FROM = (FROM_START, FROM_FAILED_STEP)
RETRY_VERSIONS = (VERSION_ORIGINAL, VERSION_DEPLOYED)

STAT_NAMES = ("steps", "http_calls", "bytes_in", "bytes_out", "script_cpu_ms")


def _existing_retry(run: Run) -> Run | None:
    return Run.objects.filter(retry_of=run).only("id").first()


def _refuse_if_retried(run: Run) -> None:
    existing = _existing_retry(run)
    if existing is not None:
        raise RunRefused(f"Run {run.pk} was already retried as run {existing.pk}; a run is retried once.")


def _chosen_version(run: Run, version: str) -> FlowVersion:
    if version == VERSION_ORIGINAL:
        return run.flow_version
    deployed = FlowVersion.objects.filter(flow=run.flow, status=FlowVersion.Status.DEPLOYED).first()
    if deployed is None:
        raise RunRefused(f"Flow '{run.flow.name}' has no deployed version.")
    return deployed


def _failed_step(run: Run) -> Step | None:
    return Step.objects.filter(run=run, status=Step.Status.FAILED).order_by("-id").first()


def _resume_items(run: Run, failed: Step, graph: Graph, version: FlowVersion) -> list[dict[str, Any]]:
    """The failed run's pending work items, checked against `graph`. Raises RunRefused (409)."""
    items = [dict(row.data) for row in WorkItem.objects.filter(run=run).order_by("id")]
    if not items or not (run.checkpoint or {}).get("started"):
        raise RunRefused(
            f"Run {run.pk} kept no checkpoint to resume from (it failed before one was written, or before "
            "checkpoints were kept for failed runs); retry it from the start."
        )
    failed_shape = graph.shapes.get(failed.shape_id)
    if failed_shape is None or str(failed_shape.get("type")) != failed.shape_type:
        raise RunRefused(
            f"Flow version {version.number} no longer has the failed shape '{failed.shape_name}' "
            f"({failed.shape_id}, {failed.shape_type}); retry from the start instead."
        )
    for item in items:
        needed = [str(item["shape"])] + [str(scope.get("shape")) for scope in item.get("scopes") or []]
        missing = [shape_id for shape_id in needed if shape_id not in graph.shapes]
        if missing:
            raise RunRefused(
                f"Flow version {version.number} no longer has shape(s) {', '.join(sorted(set(missing)))} "
                "that the failed run's checkpoint still needs; retry from the start instead."
            )
    return items


def _copy_item(item: dict[str, Any]) -> dict[str, Any]:
    """A work item of the failed run for the retry. Raises RunRefused when its large payload is gone."""
    # "step" names a Step row of the failed run; the new run records its own steps.
    copied = {key: value for key, value in item.items() if key != "step"}
    name = copied.get("file")
    # Stored files are shared by content (runs.payloads): the retry's work item refers to the same file,
    # which keeps it from retention; touching it marks it as used now.
    if name and (not touch_payload_file(name) or not default_storage.exists(name)):
        raise RunRefused(
            "A payload the failed run's checkpoint needs is no longer stored (run history retention); "
            "retry from the start instead."
        )
    return copied


def retry_run(
    *, run: Run, start_from: str = FROM_START, version: str = VERSION_ORIGINAL, user: Any = None
) -> Run:
    """Queue the one retry of a finished failed, stopped or partially successful `run`.

    `start_from` "start" runs the chosen version from the trigger with the same input and variables;
    "failed_step" (failed runs only) resumes from the failed run's last checkpoint. `version` "original"
    uses the run's own flow version, "deployed" the flow's deployed version, which must still have the
    failed shape (and every shape the checkpoint names).

    Raises `RunRefused` (the API answers 409) for a run that has not ended, succeeded, was already retried,
    or whose flow is disabled, and when the checkpoint does not fit the chosen version. Side effects: a Run
    row (trigger retry, attempt + 1, priority 0, `retry_of` = run), for "failed_step" its work items and
    checkpoint, log lines on both runs, a `run.status` event and a submit after commit.
    """
    if start_from not in RETRY_FROM or version not in RETRY_VERSIONS:
        raise ValueError(f"Unknown retry choice {start_from!r} / {version!r}")
    run = Run.objects.select_related("flow", "flow_version").get(pk=run.pk)
    if run.status not in lifecycle.RETRYABLE_STATUSES:
        raise RunRefused(f"Run {run.pk} is {run.status}; only failed, stopped or partial runs can be retried")
    if not run.flow.enabled:
        raise RunRefused(f"Flow '{run.flow.name}' is disabled.")
    _refuse_if_retried(run)
    flow_version = _chosen_version(run, version)
    items: list[dict[str, Any]] = []
    failed: Step | None = None
    if start_from == FROM_FAILED_STEP:
        if run.status != Run.Status.FAILED:
            raise RunRefused(
                f"Run {run.pk} is {run.status}; only a failed run can be retried from its failed step."
            )
        failed = _failed_step(run)
        if failed is None:
            raise RunRefused(f"Run {run.pk} has no failed step to retry from; retry it from the start.")
        items = [
            _copy_item(item)
            for item in _resume_items(run, failed, Graph(flow_version.graph or {}), flow_version)
        ]
    try:
        with transaction.atomic():
            retry = lifecycle.queue_run_attempt(
                run=run,
                delay_seconds=0.0,
                user=user,
                priority=lifecycle.MANUAL_PRIORITY,
                flow_version=flow_version,
            )
            if failed is not None:
                _seed_checkpoint(retry=retry, run=run, items=items, failed=failed)
            who = f" by {user}" if user is not None and getattr(user, "is_authenticated", False) else ""
            where = f"from failed step '{failed.shape_name}'" if failed is not None else "from the start"
            write_log(
                run=run,
                level=LogLine.Level.INFO,
                message=(
                    f"Retried manually as run {retry.pk} {where}, flow version {flow_version.number}{who}"
                ),
            )
    except IntegrityError as exc:
        # Another request created the retry between our check and our INSERT: the constraint decided.
        existing = _existing_retry(run)
        raise RunRefused(
            f"Run {run.pk} was already retried"
            + (f" as run {existing.pk}" if existing else "")
            + "; a run is retried once."
        ) from exc
    return retry


def _seed_checkpoint(*, retry: Run, run: Run, items: list[dict[str, Any]], failed: Step) -> None:
    state = dict(run.checkpoint)
    state["stats"] = {name: 0 for name in STAT_NAMES}
    # Run-scope caches (cache_add / cache_load) stay those of the first run of the chain.
    state["cache_run"] = state.get("cache_run") or run.pk
    WorkItem.objects.bulk_create([WorkItem(run=retry, data=item) for item in items])
    Run.objects.filter(pk=retry.pk).update(checkpoint=state)
    skipped = Step.objects.filter(run=run, status=Step.Status.SUCCEEDED).count()
    write_log(
        run=retry,
        level=LogLine.Level.INFO,
        message=(
            f"Resuming run {run.pk} from its failed step '{failed.shape_name}': {skipped} step(s) that "
            f"succeeded there are not executed again; {len(items)} work item(s) pending"
        ),
        data={"retry_of": run.pk, "from": FROM_FAILED_STEP, "failed_step": failed.shape_id},
    )
