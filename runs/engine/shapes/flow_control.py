"""Flow control: batches a list into payloads of `size` items, each a JSON array."""

from __future__ import annotations

import json

import jmespath
from jmespath.exceptions import JMESPathError

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload, setting_id


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    size = setting_id(context.settings.get("size"))
    if size is None or not 1 <= size <= 10000:
        raise StepFailed("Flow control: size must be a whole number from 1 to 10000.")
    path = str(context.settings.get("path") or "@")
    try:
        found = jmespath.search(path, json.loads(item.payload or "null"))
    except ValueError as exc:
        raise StepFailed(f"Flow control: the payload is not JSON ({exc}).") from exc
    except JMESPathError as exc:
        raise StepFailed(f"Flow control: invalid JMESPath {path!r}: {exc}") from exc
    if found is None:
        return Outcome.ok([])
    if not isinstance(found, list):
        raise StepFailed(f"Flow control: path {path!r} does not point to a list.")
    batches = [found[start : start + size] for start in range(0, len(found), size)]
    return Outcome.ok([Emit(json.dumps(batch, ensure_ascii=False), dict(item.meta)) for batch in batches])
