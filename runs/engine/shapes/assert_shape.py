"""Assert: fails the step with `message` when the payload does not match the conditions.

Named assert_shape because `assert` is a Python keyword; the registry maps the `assert` type here.
"""

from __future__ import annotations

from runs.conditions import ConditionSubject, evaluate_conditions
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    subject = ConditionSubject(payload=item.payload, meta=item.meta, variables=context.flow_variables)
    if evaluate_conditions(settings.get("conditions") or [], settings.get("match"), subject):
        return Outcome.ok([Emit(item.payload, item.meta)])
    message = (
        context.render(settings.get("message") or "", item) or f"Assertion '{context.shape_name}' failed"
    )
    raise StepFailed(message)
