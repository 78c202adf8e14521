"""One module per shape kind; each has `execute(context, item) -> Outcome` (docs/shapes.md)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING

from runs.engine.outcome import Outcome, StepFailed, WorkPayload

if TYPE_CHECKING:
    from runs.engine.context import StepContext

SHAPE_KINDS = (
    "trigger",
    "connector",
    "script",
    "map",
    "filter",
    "route",
    "branch",
    "split",
    "flow_control",
    "set_variables",
    "notify",
    "run_flow",
    "manual_payload",
    "assert",
    "try_catch",
    "cache_add",
    "cache_load",
    "dedupe",
)

_MODULES = {
    kind: f"runs.engine.shapes.{'assert_shape' if kind == 'assert' else kind}" for kind in SHAPE_KINDS
}
_loaded: dict[str, Callable[[StepContext, WorkPayload], Outcome]] = {}


def execute_shape(kind: str, context: StepContext, item: WorkPayload) -> Outcome:
    """Run the shape kind's `execute`; an unknown kind fails the step."""
    function = _loaded.get(kind)
    if function is None:
        if kind not in _MODULES:
            raise StepFailed(f"Unknown shape type {kind!r}.")
        function = import_module(_MODULES[kind]).execute
        _loaded[kind] = function
    return function(context, item)
