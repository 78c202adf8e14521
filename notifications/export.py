"""The `alerts` section of a flow's export (designer/services/export.py): the flow's alert settings with its
channels and error flow by name. Channel secrets and the throttle's state (last alert, suppressed count)
stay behind; the channels themselves are not exported (they hold secrets): an import names the ones it needs
and is refused with one error per channel or error flow that does not exist in this installation."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from designer.models import Flow
from designer.services.export import ExportSection
from notifications import services
from notifications.models import FlowAlertSettings, NotificationChannel

KEY = "alerts"


class _AlertsSection(serializers.Serializer):
    channels = serializers.ListField(child=serializers.CharField(max_length=200), default=list)
    outcomes = serializers.ListField(
        child=serializers.ChoiceField(choices=services.OUTCOMES), default=list(services.DEFAULT_OUTCOMES)
    )
    interval_minutes = serializers.IntegerField(min_value=0, max_value=10080, default=60)
    error_flow = serializers.CharField(max_length=200, allow_null=True, default=None)


def export_alerts(flow: Flow) -> dict[str, Any] | None:
    found = FlowAlertSettings.objects.filter(flow=flow).select_related("error_flow").first()
    if found is None:
        return None
    return {
        "channels": sorted(channel.name for channel in found.channels.all()),
        "outcomes": list(found.outcomes or []),
        "interval_minutes": found.interval_minutes,
        "error_flow": found.error_flow.name if found.error_flow is not None else None,
    }


def resolve_alerts(value: Any) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    if not isinstance(value, dict):
        return None, [{"field": KEY, "message": "Expected an object with the flow's alert settings."}]
    checked = _AlertsSection(data=value)
    if not checked.is_valid():
        errors = []
        for field, messages in checked.errors.items():
            for message in messages if isinstance(messages, list) else [messages]:
                text = message if isinstance(message, str) else next(iter(message.values()))[0]
                errors.append({"field": f"{KEY}.{field}", "message": str(text)})
        return None, errors
    data = checked.validated_data
    errors = []
    names = list(dict.fromkeys(data["channels"]))
    channels = {channel.name: channel for channel in NotificationChannel.objects.filter(name__in=names)}
    for name in names:
        if name not in channels:
            errors.append(
                {"field": f"{KEY}.channels", "message": f"Notification channel '{name}' does not exist here."}
            )
    error_flow = None
    if data["error_flow"] is not None:
        error_flow = Flow.objects.filter(name=data["error_flow"]).first()
        if error_flow is None:
            errors.append(
                {"field": f"{KEY}.error_flow", "message": f"Flow '{data['error_flow']}' does not exist here."}
            )
    resolved = {
        "channels": [channels[name] for name in names if name in channels],
        "outcomes": data["outcomes"],
        "interval_minutes": data["interval_minutes"],
        "error_flow": error_flow,
    }
    return resolved, errors


def apply_alerts(flow: Flow, resolved: dict[str, Any]) -> None:
    services.save_alert_settings(flow=flow, **resolved)


SECTION = ExportSection(key=KEY, export=export_alerts, resolve=resolve_alerts, apply=apply_alerts)
