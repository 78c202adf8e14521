"""State that flows keep between steps and runs: caches (`cache_add` / `cache_load`) and de-dupe pools
(`dedupe`). Kept in their own app, apart from the run history, because it outlives runs (flow and global
scopes, de-dupe retention in days) and has its own pruning; it also keeps these migrations out of the
runs app's, which several people change.

Concurrency is decided by rows and constraints, never by a read-then-write: every appended cache entry is
its own row, a replace locks its slot row, and a de-dupe key is claimed by the INSERT that the unique
constraint lets through.
"""

from __future__ import annotations

from django.db import models


class CacheSlot(models.Model):
    """One cache key in one scope: `cache` name, `scope` (run / flow / global) and the scope's id."""

    class Scope(models.TextChoices):
        RUN = "run"
        FLOW = "flow"
        GLOBAL = "global"

    cache = models.CharField(max_length=200)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    # The run id (run scope), the flow id (flow scope) or "" (global).
    scope_ref = models.CharField(max_length=32, blank=True)
    key = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cache", "scope", "scope_ref", "key"], name="one_cache_slot")
        ]

    def __str__(self) -> str:
        where = f"{self.scope} {self.scope_ref}".strip()
        return f"{self.cache}[{self.key}] ({where})"


class CacheEntry(models.Model):
    """One stored payload of a slot: a replace leaves one, each append adds one."""

    slot = models.ForeignKey(CacheSlot, on_delete=models.CASCADE, related_name="entries")
    payload = models.TextField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The step that wrote it ("<run id>:<step id>"): a step executed again after a crash appends once.
    claimed_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["slot", "id"]
        verbose_name_plural = "cache entries"

    def __str__(self) -> str:
        return f"Entry {self.pk} of {self.slot_id}"


class DedupeKey(models.Model):
    """A key a de-dupe pool has seen. `key_hash` (SHA-256 of the key) is what the constraint compares."""

    pool = models.CharField(max_length=200)
    key_hash = models.CharField(max_length=64)
    key = models.TextField()
    # Who inserted it: "<run id>:<step id>", so a step executed again after a crash passes its own keys.
    claimed_by = models.CharField(max_length=64)
    run = models.ForeignKey("runs.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "key_hash"], name="dedupe_key_once")]

    def __str__(self) -> str:
        return f"{self.pool}: {self.key[:80]}"
