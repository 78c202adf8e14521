"""Admin for custom scripts: the draft is editable, versions are listed inline and read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from scripts_app.models import Script, ScriptVersion


class ScriptVersionInline(admin.TabularInline):
    model = ScriptVersion
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("number", "status", "deployed_at", "deployed_by", "last_invoked_at", "checksum")
    readonly_fields = fields
    ordering = ["-number"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "deployed_version", "updated_at", "updated_by"]
    list_filter = ["kind"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_at", "updated_at", "created_by", "updated_by"]
    inlines = [ScriptVersionInline]

    @admin.display(description="Deployed version")
    def deployed_version(self, script: Script) -> str:
        version = script.versions.filter(status=ScriptVersion.Status.DEPLOYED).values_list(
            "number", flat=True
        )
        number = version.first()
        return f"v{number}" if number is not None else "-"

    def save_model(self, request: HttpRequest, obj: Script, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        obj.updated_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


@admin.register(ScriptVersion)
class ScriptVersionAdmin(admin.ModelAdmin):
    """Deployed versions are immutable: everything is read-only; deploy through the API or the editor."""

    list_display = ["__str__", "status", "deployed_at", "deployed_by", "last_invoked_at"]
    list_filter = ["status"]
    search_fields = ["script__name"]
    fields = (
        "script",
        "number",
        "status",
        "code",
        "checksum",
        "deployed_at",
        "deployed_by",
        "last_invoked_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewing is allowed (the change view shows read-only fields); saving changes nothing.
        return super().has_view_permission(request, obj)
