"""Script: runs a custom script on the payload; its returned payload and meta are the output."""

from __future__ import annotations

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    if settings.get("script") in (None, ""):
        raise StepFailed("The script shape has no script set.")
    result = context.run_script(
        script_id=settings["script"],
        version=settings.get("version"),
        data=context.script_data(item),
    )
    payload = result.payload
    if payload is not None and not isinstance(payload, str):
        raise StepFailed(
            f"The script returned a payload of type {type(payload).__name__}; expected a string."
        )
    meta = result.meta if isinstance(result.meta, dict) else item.meta
    return Outcome.ok([Emit(payload, dict(meta))])
