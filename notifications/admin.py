"""Admin of failure alerts: channels (secrets never shown), flow alert settings, delivery records."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import AlertDelivery, FlowAlertSettings, NotificationChannel


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "enabled", "updated_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    exclude = ["secret"]


@admin.register(FlowAlertSettings)
class FlowAlertSettingsAdmin(admin.ModelAdmin):
    list_display = ["flow", "interval_minutes", "error_flow", "last_alert_at", "suppressed"]
    filter_horizontal = ["channels"]
    raw_id_fields = ["flow", "error_flow"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "flow", "run", "outcome", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "outcome", "channel"]
    raw_id_fields = ["run", "flow"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AlertDelivery._meta.fields]
