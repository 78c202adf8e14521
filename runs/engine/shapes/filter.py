"""Filter: passes the payloads that match the conditions (or, with keep_matching false, those that do not)."""

from __future__ import annotations

from runs.conditions import ConditionSubject, evaluate_conditions
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, WorkPayload
from runs.models import LogLine


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    subject = ConditionSubject(payload=item.payload, meta=item.meta, variables=context.flow_variables)
    matched = evaluate_conditions(settings.get("conditions") or [], settings.get("match"), subject)
    keep = matched if settings.get("keep_matching", True) else not matched
    if keep:
        return Outcome.ok([Emit(item.payload, item.meta)])
    context.log(
        LogLine.Level.INFO,
        f"Filter '{context.shape_name}' dropped a payload ({'matched' if matched else 'did not match'})",
    )
    return Outcome.ok([])
