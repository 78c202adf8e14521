"""Cache add: stores the payload in a named cache (run, flow or global scope); the payload passes on."""

from __future__ import annotations

from typing import Any

from flowstore.models import CacheSlot
from flowstore.services import APPEND, MAX_KEY_LENGTH, add_to_cache
from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload
from runs.models import LogLine

DEFAULT_TTL_HOURS = 24.0


def scope_ref(context: StepContext, scope: str) -> str:
    """The id the scope is bound to: this run, this flow, or nothing (global).

    A retry from the failed step carries on the run it retries (runs/retries.py sets `cache_run` in the
    checkpoint it hands over), so it sees the run-scope entries the steps before the failure stored.
    """
    if scope == CacheSlot.Scope.RUN:
        return str(context.runner.state.get("cache_run") or context.run.pk)
    if scope == CacheSlot.Scope.FLOW:
        return str(context.run.flow_id)
    return ""


def cache_address(context: StepContext, item: WorkPayload) -> tuple[str, str, str]:
    """(cache name, scope, rendered key) of a cache shape; raises StepFailed for a key that is too long."""
    settings: dict[str, Any] = context.settings
    name = str(settings.get("cache") or "")
    scope = str(settings.get("scope") or CacheSlot.Scope.FLOW)
    key = context.render(settings.get("key") or "", item)
    # Bytes, not characters: the slot's unique index must stay within PostgreSQL's index row limit.
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_LENGTH:
        raise StepFailed(f"Cache '{name}': the key is {size} bytes long (at most {MAX_KEY_LENGTH}).")
    return name, scope, key


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    name, scope, key = cache_address(context, item)
    mode = str(context.settings.get("mode") or "replace")
    ttl_hours = float(context.settings.get("ttl_hours") or DEFAULT_TTL_HOURS)
    count = add_to_cache(
        cache=name,
        scope=scope,
        scope_ref=scope_ref(context, scope),
        key=key,
        payload=item.payload,
        meta={str(k): str(v) for k, v in item.meta.items()},
        mode=mode,
        ttl_hours=ttl_hours,
        run_id=context.run.pk,
        claimed_by=f"{context.run.pk}:{context.step.pk}",
    )
    verb = "Appended the payload to" if mode == APPEND else "Stored the payload in"
    where = f" under key '{key}'" if key else ""
    context.log(
        LogLine.Level.INFO,
        f"{verb} cache '{name}' ({scope} scope){where}; {count} entr{'y' if count == 1 else 'ies'}",
    )
    return Outcome.ok([Emit(item.payload, item.meta)])
