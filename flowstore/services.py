"""Writes of caches and de-dupe pools (the `cache_add`, `cache_load` and `dedupe` shapes use these).

Concurrency, on SQLite and PostgreSQL alike:

- An append is one INSERT of its own entry row, so appends from concurrent runs are never lost.
- A replace locks the slot row (an UPDATE of it first; SQLite's IMMEDIATE transaction locks the database)
  and deletes the slot's entries before inserting its own, so two replaces leave one entry.
- A de-dupe key is claimed by an INSERT that ignores conflicts (`ON CONFLICT DO NOTHING` / `INSERT OR
  IGNORE`) against the unique constraint on (pool, key hash); whoever's row is there afterwards passed it.
  Never a read-then-write: two runs offering the same new key pass it exactly once.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from flowstore.models import CacheEntry, CacheSlot, DedupeKey

REPLACE = "replace"
APPEND = "append"
FILTER = "filter"
TRACK = "track"
FILTER_AND_TRACK = "filter_and_track"
logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 500
# Keys per IN (...) list: well below SQLite's bound on query parameters.
CHUNK = 500
PRUNE_BATCH = 2000


def _slot_filter(*, cache: str, scope: str, scope_ref: str, key: str) -> dict[str, str]:
    return {"cache": cache, "scope": scope, "scope_ref": scope_ref, "key": key}


def add_to_cache(
    *,
    cache: str,
    scope: str,
    scope_ref: str,
    key: str,
    payload: str | None,
    meta: dict[str, Any],
    mode: str,
    ttl_hours: float,
    run_id: int | None,
    claimed_by: str,
) -> int:
    """Store `payload` under (cache, scope, scope_ref, key): `replace` leaves it the only entry, `append`
    adds it after the others. Entries expire `ttl_hours` from now.

    `claimed_by` names the step writing ("<run>:<step>"): a step executed again after a crash does not
    append a second copy. Returns the number of live entries of the slot afterwards. Locks the slot row
    for a replace.
    """
    now = timezone.now()
    expires_at = now + datetime.timedelta(hours=ttl_hours)
    with transaction.atomic():
        slot, _ = CacheSlot.objects.get_or_create(cache=cache, scope=scope, scope_ref=scope_ref, key=key)
        # The UPDATE locks the slot row until commit (on SQLite the IMMEDIATE transaction holds the database):
        # replaces of one slot take turns, and the pruner cannot delete the slot under this transaction.
        CacheSlot.objects.filter(pk=slot.pk).update(updated_at=now)
        if mode == REPLACE:
            slot.entries.all().delete()
        elif slot.entries.filter(claimed_by=claimed_by).exists():
            return slot.entries.filter(expires_at__gt=now).count()
        CacheEntry.objects.create(
            slot=slot, payload=payload, meta=meta, run_id=run_id, claimed_by=claimed_by, expires_at=expires_at
        )
        return slot.entries.filter(expires_at__gt=now).count()


def load_cache(*, cache: str, scope: str, scope_ref: str, key: str) -> list[CacheEntry]:
    """The live entries of the slot, oldest first (empty when there is none)."""
    return list(
        CacheEntry.objects.filter(
            slot__cache=cache,
            slot__scope=scope,
            slot__scope_ref=scope_ref,
            slot__key=key,
            expires_at__gt=timezone.now(),
        ).order_by("id")
    )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def offer_dedupe_keys(
    *,
    pool: str,
    keys: Sequence[str],
    mode: str,
    retention_days: float,
    claimed_by: str,
    run_id: int | None,
) -> list[bool]:
    """For each of `keys`, whether its item passes the pool.

    `filter`: passes the keys the pool has not seen, records nothing. `track`: records the keys, passes
    everything. `filter_and_track`: records the keys and passes those that this call (or an earlier
    execution of the same step, `claimed_by`) recorded, each once even when it repeats inside `keys`.
    Keys past their retention count as unseen (they are removed first). Recorded keys are kept
    `retention_days` days.
    """
    now = timezone.now()
    hashes = [key_hash(key) for key in keys]
    distinct = list(dict.fromkeys(hashes))
    for chunk in _chunks(distinct):
        DedupeKey.objects.filter(pool=pool, key_hash__in=chunk, expires_at__lte=now).delete()
    if mode == FILTER:
        seen: set[str] = set()
        for chunk in _chunks(distinct):
            seen.update(
                DedupeKey.objects.filter(pool=pool, key_hash__in=chunk).values_list("key_hash", flat=True)
            )
        return [digest not in seen for digest in hashes]
    expires_at = now + datetime.timedelta(days=retention_days)
    text_of = dict(zip(hashes, keys, strict=True))
    rows = [
        DedupeKey(
            pool=pool,
            key_hash=digest,
            key=text_of[digest],
            claimed_by=claimed_by,
            run_id=run_id,
            expires_at=expires_at,
        )
        for digest in distinct
    ]
    DedupeKey.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
    if mode == TRACK:
        return [True] * len(hashes)
    mine: set[str] = set()
    for chunk in _chunks(distinct):
        mine.update(
            DedupeKey.objects.filter(pool=pool, key_hash__in=chunk, claimed_by=claimed_by).values_list(
                "key_hash", flat=True
            )
        )
    passed: list[bool] = []
    given: set[str] = set()
    for digest in hashes:
        passed.append(digest in mine and digest not in given)
        given.add(digest)
    return passed


def prune_expired(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete expired cache entries and de-dupe keys, and cache slots left empty for an hour.

    Called from the run history pruning (runs.retention.prune_runs). Returns the counts removed.
    """
    now = now or timezone.now()
    removed = {"cache_entries": 0, "cache_slots": 0, "dedupe_keys": 0}
    for model, name in ((CacheEntry, "cache_entries"), (DedupeKey, "dedupe_keys")):
        while True:
            ids = list(model.objects.filter(expires_at__lte=now).values_list("id", flat=True)[:PRUNE_BATCH])
            if not ids:
                break
            with transaction.atomic():
                removed[name] += model.objects.filter(id__in=ids).delete()[0]
    idle = now - datetime.timedelta(hours=1)
    removed["cache_slots"] = CacheSlot.objects.filter(updated_at__lt=idle, entries__isnull=True).delete()[0]
    if any(removed.values()):
        logger.info("Pruned caches and de-dupe pools: %s", removed)
    return removed
