"""Set variables: run-scoped flow variables or payload meta; the payload passes unchanged."""

from __future__ import annotations

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    meta = dict(item.meta)
    for variable in context.settings.get("variables") or []:
        name = str(variable.get("name") or "")
        if not name:
            raise StepFailed("Set variables: a variable has no name.")
        value = context.render(variable.get("value"), WorkPayload(item.payload, meta))
        if variable.get("scope") == "meta":
            meta[name] = value
        else:
            context.flow_variables[name] = value
    return Outcome.ok([Emit(item.payload, meta)])
