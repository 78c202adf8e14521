"""Cache load: emits the payloads stored in a cache (one per entry, oldest first), or handles a miss."""

from __future__ import annotations

from flowstore.services import load_cache
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload
from runs.engine.shapes.cache_add import cache_address, scope_ref
from runs.models import LogLine


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    name, scope, key = cache_address(context, item)
    entries = load_cache(cache=name, scope=scope, scope_ref=scope_ref(context, scope), key=key)
    where = f"cache '{name}' ({scope} scope)" + (f" under key '{key}'" if key else "")
    if entries:
        context.log(
            LogLine.Level.INFO,
            f"Loaded {len(entries)} entr{'y' if len(entries) == 1 else 'ies'} from {where}",
        )
        return Outcome.ok([Emit(entry.payload, {**item.meta, **(entry.meta or {})}) for entry in entries])
    missing = str(context.settings.get("missing") or "fail")
    if missing == "empty":
        context.log(LogLine.Level.INFO, f"Nothing in {where}; emitting an empty payload")
        return Outcome.ok([Emit("", item.meta)])
    if missing == "skip":
        context.log(LogLine.Level.INFO, f"Nothing in {where}; this payload goes no further")
        return Outcome.ok([])
    raise StepFailed(f"Nothing in {where} (or it expired).")
