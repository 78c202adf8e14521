"""Admin of caches and de-dupe pools: look at what flows stored, remove entries by hand."""

from __future__ import annotations

from django.contrib import admin

from flowstore.models import CacheEntry, CacheSlot, DedupeKey


class CacheEntryInline(admin.TabularInline):
    model = CacheEntry
    extra = 0
    readonly_fields = ("id", "run", "created_at", "expires_at", "payload")
    fields = readonly_fields


@admin.register(CacheSlot)
class CacheSlotAdmin(admin.ModelAdmin):
    list_display = ["cache", "scope", "scope_ref", "key", "updated_at"]
    list_filter = ["scope"]
    search_fields = ["cache", "key"]
    readonly_fields = ["cache", "scope", "scope_ref", "key", "updated_at"]
    inlines = [CacheEntryInline]


@admin.register(DedupeKey)
class DedupeKeyAdmin(admin.ModelAdmin):
    list_display = ["pool", "key", "run", "created_at", "expires_at"]
    list_filter = ["pool"]
    search_fields = ["pool", "key"]
    raw_id_fields = ["run"]
    readonly_fields = ["pool", "key_hash", "key", "claimed_by", "run", "created_at", "expires_at"]
