"""The references of a graph: connectors, endpoints, scripts and flows must exist in this installation."""

from __future__ import annotations

from typing import Any

from designer.graph.errors import GraphError, graph_error
from designer.models import Connector, Endpoint, Flow
from scripts_app.models import Script
from scripts_app.selectors import resolve_script_version


def _id(value: Any) -> int | None:
    """A well-formed id, or None (a malformed one was already reported by the settings check)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _version(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def script_references(shape: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(script setting, version setting, script id, version) of every script a shape references."""
    settings = shape.get("settings")
    if not isinstance(settings, dict):
        return []
    kind = shape.get("type")
    if kind == "script":
        return [("script", "version", settings.get("script"), settings.get("version"))]
    if kind == "connector" and settings.get("response_script") is not None:
        return [
            (
                "response_script",
                "response_script_version",
                settings.get("response_script"),
                settings.get("response_script_version"),
            )
        ]
    if kind == "map" and isinstance(settings.get("mappings"), list):
        return [
            (f"mappings.{i}.script", f"mappings.{i}.version", m.get("script"), m.get("version"))
            for i, m in enumerate(settings["mappings"])
            if isinstance(m, dict) and m.get("script") is not None
        ]
    return []


def reference_errors(by_id: dict[str, dict[str, Any]], flow: Any) -> list[GraphError]:
    """Reads the referenced rows in a few queries and reports every missing or mismatched reference."""
    settings_of = {
        shape_id: shape["settings"]
        for shape_id, shape in by_id.items()
        if isinstance(shape.get("settings"), dict)
    }
    kinds = {shape_id: shape.get("type") for shape_id, shape in by_id.items()}
    connector_ids = {_id(s.get("connector")) for i, s in settings_of.items() if kinds[i] == "connector"}
    endpoint_ids = {_id(s.get("endpoint")) for i, s in settings_of.items() if kinds[i] == "connector"}
    flow_ids = {_id(s.get("flow")) for i, s in settings_of.items() if kinds[i] == "run_flow"}
    script_ids = {_id(ref[2]) for shape in by_id.values() for ref in script_references(shape)}
    connectors = Connector.objects.in_bulk([i for i in connector_ids if i])
    endpoints = Endpoint.objects.select_related("connector").in_bulk([i for i in endpoint_ids if i])
    flows = Flow.objects.in_bulk([i for i in flow_ids if i])
    scripts = Script.objects.in_bulk([i for i in script_ids if i])

    errors: list[GraphError] = []
    for shape_id, shape in by_id.items():
        settings = settings_of.get(shape_id)
        if settings is None:
            continue
        if kinds[shape_id] == "connector":
            errors.extend(_connector_errors(shape_id, settings, connectors, endpoints))
        if kinds[shape_id] == "run_flow":
            flow_id = _id(settings.get("flow"))
            if flow_id is not None and flow_id not in flows:
                errors.append(
                    graph_error(
                        shape_id, "flow", f"Setting 'flow' refers to flow {flow_id}, which does not exist."
                    )
                )
            elif flow_id is not None and flow is not None and flow_id == flow.pk:
                errors.append(
                    graph_error(
                        shape_id,
                        "flow",
                        f"A run_flow shape cannot run its own flow '{flow.name}' (id {flow.pk}).",
                    )
                )
        for script_setting, version_setting, raw_script, raw_version in script_references(shape):
            script_id = _id(raw_script)
            if script_id is None:
                continue
            script = scripts.get(script_id)
            if script is None:
                errors.append(
                    graph_error(
                        shape_id,
                        script_setting,
                        f"Setting '{script_setting}' refers to script {script_id}, which does not exist.",
                    )
                )
                continue
            version = _version(raw_version)
            if raw_version is not None and version is None:
                continue
            if resolve_script_version(script_id=script_id, version=version) is not None:
                continue
            if version is None:
                errors.append(
                    graph_error(
                        shape_id,
                        script_setting,
                        f"Script '{script.name}' (id {script_id}) has no deployed version; deploy it first.",
                    )
                )
            else:
                errors.append(
                    graph_error(
                        shape_id,
                        version_setting,
                        f"Script '{script.name}' (id {script_id}) has no version {version}.",
                    )
                )
    return errors


def _connector_errors(
    shape_id: str,
    settings: dict[str, Any],
    connectors: dict[int, Connector],
    endpoints: dict[int, Endpoint],
) -> list[GraphError]:
    errors: list[GraphError] = []
    connector_id, endpoint_id = _id(settings.get("connector")), _id(settings.get("endpoint"))
    connector = connectors.get(connector_id) if connector_id else None
    if connector_id is not None and connector is None:
        errors.append(
            graph_error(
                shape_id,
                "connector",
                f"Setting 'connector' refers to connector {connector_id}, which does not exist.",
            )
        )
    if endpoint_id is not None:
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None:
            errors.append(
                graph_error(
                    shape_id,
                    "endpoint",
                    f"Setting 'endpoint' refers to endpoint {endpoint_id}, which does not exist.",
                )
            )
        elif connector is not None and endpoint.connector_id != connector.pk:
            errors.append(
                graph_error(
                    shape_id,
                    "endpoint",
                    f"Setting 'endpoint' must be an endpoint of connector '{connector.name}' "
                    f"(id {connector.pk}); "
                    f"endpoint {endpoint_id} belongs to '{endpoint.connector.name}'.",
                )
            )
    if settings.get("response_script") is None and settings.get("response_script_version") is not None:
        errors.append(
            graph_error(
                shape_id,
                "response_script_version",
                "Setting 'response_script_version' needs a 'response_script'.",
            )
        )
    return errors
