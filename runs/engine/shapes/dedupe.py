"""De-dupe: drops the items (of a JSON array payload) or the payload (a JSON object) whose key a pool has
seen, and / or records the keys. Atomic across concurrent runs (flowstore.services.offer_dedupe_keys)."""

from __future__ import annotations

import json
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from flowstore.services import TRACK, offer_dedupe_keys
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload
from runs.models import LogLine

DEFAULT_RETENTION_DAYS = 90


def _key_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    pool = str(settings.get("pool") or "")
    key_path = str(settings.get("key_path") or "")
    mode = str(settings.get("mode") or "filter_and_track")
    retention_days = float(settings.get("retention_days") or DEFAULT_RETENTION_DAYS)
    try:
        data = json.loads(item.payload or "")
    except ValueError as exc:
        raise StepFailed(f"De-dupe '{pool}': the payload is not JSON ({exc}).") from exc
    try:
        expression = jmespath.compile(key_path)
    except JMESPathError as exc:
        raise StepFailed(f"De-dupe '{pool}': key_path '{key_path}' is not valid JMESPath: {exc}") from exc
    elements = data if isinstance(data, list) else [data]
    keys: list[str] = []
    for index, element in enumerate(elements):
        value = expression.search(element)
        if value is None or value == "":
            which = f"item {index + 1}" if isinstance(data, list) else "the payload"
            raise StepFailed(f"De-dupe '{pool}': key_path '{key_path}' finds no key in {which}.")
        keys.append(_key_text(value))
    passes = offer_dedupe_keys(
        pool=pool,
        keys=keys,
        mode=mode,
        retention_days=retention_days,
        claimed_by=f"{context.run.pk}:{context.step.pk}",
        run_id=context.run.pk,
    )
    passed = [element for element, ok in zip(elements, passes, strict=True) if ok]
    removed = len(elements) - len(passed)
    meta = {**item.meta, "dedupe_passed": str(len(passed)), "dedupe_removed": str(removed)}
    if mode == TRACK:
        context.log(LogLine.Level.INFO, f"De-dupe '{pool}': recorded {len(keys)} key(s)")
    else:
        context.log(LogLine.Level.INFO, f"De-dupe '{pool}': {len(passed)} passed, {removed} already seen")
    if not passed:
        return Outcome.ok([])
    if isinstance(data, list) and removed:
        return Outcome.ok([Emit(json.dumps(passed, ensure_ascii=False), meta)])
    return Outcome.ok([Emit(item.payload, meta)])
