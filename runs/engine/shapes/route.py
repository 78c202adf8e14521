"""Route: conditional (first matching route's connections) or parallel (every connection)."""

from __future__ import annotations

from runs.conditions import ConditionSubject, evaluate_conditions
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, WorkPayload
from runs.models import LogLine


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    routes = settings.get("routes") or []
    if settings.get("mode") == "parallel" or not routes:
        return Outcome.ok([Emit(item.payload, item.meta)])
    subject = ConditionSubject(payload=item.payload, meta=item.meta, variables=context.flow_variables)
    for route in routes:
        if evaluate_conditions(route.get("conditions") or [], route.get("match"), subject):
            label = str(route.get("label"))
            context.log(LogLine.Level.DEBUG, f"Route '{context.shape_name}': payload goes down '{label}'")
            return Outcome.ok([Emit(item.payload, item.meta, label=label)])
    context.log(LogLine.Level.WARNING, f"Route '{context.shape_name}': no route matched; payload dropped")
    return Outcome.ok([])
