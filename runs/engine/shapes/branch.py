"""Branch: the payload goes down branch 1, whose whole path finishes before branch 2 starts, and so on.

The engine's work list is a stack, so pushing the branches in order makes each branch's path run to the end
before the next; the `branch` scope lets a failure in one branch skip the later ones.
"""

from __future__ import annotations

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, WorkPayload


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    orders = sorted(
        {int(c["order"]) for c in context.graph.connections(context.shape_id) if c.get("order") is not None}
    )
    return Outcome.ok([Emit(item.payload, item.meta, order=order, scope="branch") for order in orders])
