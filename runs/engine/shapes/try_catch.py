"""Try / catch: payloads go down `try`; the engine sends a payload whose downstream step fails down `catch`.

The `try` scope on the output tells the engine which payload entered here; the catch handling (meta `error`
and `error_shape`, partial success) lives in runs.engine.runner because it reacts to a later step's failure.
"""

from __future__ import annotations

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, WorkPayload


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    return Outcome.ok([Emit(item.payload, item.meta, label="try", scope="try")])
