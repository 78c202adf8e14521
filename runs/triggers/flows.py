"""Reads the triggers need: a flow's deployed version and the settings of its trigger shape."""

from __future__ import annotations

from typing import Any

from designer.models import Flow, FlowVersion


def deployed_version(flow: Flow) -> FlowVersion | None:
    return FlowVersion.objects.filter(flow=flow, status=FlowVersion.Status.DEPLOYED).first()


def trigger_settings(graph: dict[str, Any] | None) -> dict[str, Any]:
    """The settings of the graph's trigger shape ({} when the graph has none, which validation refuses)."""
    for shape in (graph or {}).get("shapes", []):
        if isinstance(shape, dict) and shape.get("type") == "trigger":
            settings = shape.get("settings")
            return settings if isinstance(settings, dict) else {}
    return {}


def trigger_kind(graph: dict[str, Any] | None) -> str:
    return str(trigger_settings(graph).get("kind", ""))
