"""Manual payload: replaces the payload with the rendered text and sets the given meta."""

from __future__ import annotations

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, WorkPayload


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    payload = context.render(context.settings.get("payload") or "", item)
    meta = dict(item.meta)
    for name, template in (context.settings.get("meta") or {}).items():
        meta[str(name)] = context.render(template, item)
    return Outcome.ok([Emit(payload, meta)])
