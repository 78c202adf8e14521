"""Trigger: the run's input payload (webhook body, or the payload of a manual / API run) is its output."""

from __future__ import annotations

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, WorkPayload


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    return Outcome.ok([Emit(item.payload, item.meta)])
