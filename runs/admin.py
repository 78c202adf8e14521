"""Django admin for runs: read-only records (the engine writes them) plus retry and stop actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from runs import services
from runs.errors import RunRefused
from runs.models import Attempt, LogLine, Payload, Run, ScheduleFiring, Step


class ReadOnlyAdminMixin:
    """Run records are history: the admin shows them and never edits them by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


STEP_INLINE_FIELDS = (
    "shape_id",
    "shape_name",
    "shape_type",
    "input_index",
    "status",
    "attempts",
    "http_status",
    "started_at",
    "finished_at",
    "error",
)
LOG_LINE_INLINE_FIELDS = ("seq", "ts", "level", "step", "message")
ATTEMPT_INLINE_FIELDS = (
    "number",
    "started_at",
    "duration_ms",
    "http_status",
    "outcome",
    "response_code",
    "message",
)


class StepInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Step
    extra = 0
    can_delete = False
    show_change_link = True
    fields = STEP_INLINE_FIELDS
    readonly_fields = STEP_INLINE_FIELDS


class LogLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = LogLine
    extra = 0
    can_delete = False
    fields = LOG_LINE_INLINE_FIELDS
    readonly_fields = LOG_LINE_INLINE_FIELDS
    ordering = ["seq"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "flow",
        "flow_version",
        "trigger",
        "status",
        "priority",
        "attempt",
        "queued_at",
        "started_at",
        "finished_at",
        "has_warnings",
    ]
    list_filter = ["status", "trigger", "priority", "has_warnings", "flow"]
    search_fields = ["=id", "flow__name", "error", "lease_owner"]
    date_hierarchy = "queued_at"
    list_select_related = ["flow", "flow_version"]
    raw_id_fields = ["retry_of", "parent_run"]
    inlines = [StepInline, LogLineInline]
    actions = ["retry_runs", "stop_runs"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Run._meta.fields]

    @admin.action(description="Retry the selected runs (same flow version)")
    def retry_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        self._apply(request, queryset, "retried", lambda run: services.retry_run(run=run, user=request.user))

    @admin.action(description="Stop the selected runs (after their current step)")
    def stop_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        self._apply(request, queryset, "stopped", lambda run: services.stop_run(run=run, user=request.user))

    def _apply(self, request: HttpRequest, queryset: QuerySet[Run], verb: str, action: Any) -> None:
        done = 0
        for run in queryset.select_related("flow"):
            try:
                action(run)
                done += 1
            except RunRefused as refusal:
                self.message_user(request, refusal.message, level=messages.WARNING)
        if done:
            self.message_user(request, f"{done} run(s) {verb}.", level=messages.SUCCESS)


class AttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ATTEMPT_INLINE_FIELDS
    readonly_fields = ATTEMPT_INLINE_FIELDS


@admin.register(Step)
class StepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "run",
        "shape_id",
        "shape_type",
        "input_index",
        "status",
        "attempts",
        "http_status",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "shape_type"]
    search_fields = ["=run__id", "shape_id", "shape_name", "error"]
    raw_id_fields = ["run"]
    inlines = [AttemptInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Step._meta.fields]


@admin.register(LogLine)
class LogLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "run", "seq", "ts", "level", "step", "message"]
    list_filter = ["level"]
    search_fields = ["=run__id", "message"]
    raw_id_fields = ["run", "step"]
    date_hierarchy = "ts"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in LogLine._meta.fields]


@admin.register(Payload)
class PayloadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "run", "step", "direction", "index", "size", "created_at"]
    list_filter = ["direction"]
    search_fields = ["=run__id"]
    raw_id_fields = ["run", "step"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Payload._meta.fields]


@admin.register(ScheduleFiring)
class ScheduleFiringAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "flow", "due_at", "run", "created_at"]
    list_filter = ["flow"]
    search_fields = ["flow__name"]
    raw_id_fields = ["run"]
    date_hierarchy = "due_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in ScheduleFiring._meta.fields]
