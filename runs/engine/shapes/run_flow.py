"""Run flow: queues a run of another flow with this payload as input; the payload passes unchanged."""

from __future__ import annotations

from designer.models import Flow
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload, setting_id
from runs.errors import RunRefused
from runs.lifecycle import enqueue_run
from runs.models import LogLine, Run


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    flow_id = setting_id(settings.get("flow"))
    flow = Flow.objects.filter(pk=flow_id).first() if flow_id is not None else None
    if flow is None:
        raise StepFailed(f"Run flow: flow {settings.get('flow')!r} does not exist.")
    pass_payload = settings.get("pass_payload", True)
    try:
        child = enqueue_run(
            flow=flow,
            trigger=Run.Trigger.RUN_FLOW,
            payload=item.payload if pass_payload else None,
            meta=item.meta if pass_payload else None,
            parent_run=context.run,
        )
    except RunRefused as exc:
        raise StepFailed(f"Run flow: {exc.message}") from exc
    context.log(LogLine.Level.INFO, f"Queued run {child.pk} of flow '{flow.name}'", {"run": child.pk})
    return Outcome.ok([Emit(item.payload, item.meta)])
