"""Export of a flow as a JSON document with references by name, and its import into another installation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from config.api_errors import ApiError, flatten_errors
from designer.graph import GraphError, validate_graph
from designer.graph.references import script_references
from designer.models import Connector, Endpoint, Flow
from designer.serializers import FlowSettingsSerializer
from designer.services.flows import FLOW_SETTINGS, clean_graph, create_flow, get_draft
from scripts_app.models import Script

EXPORT_FORMAT = "patchbay.flow"
EXPORT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ExportSection:
    """A part of a flow's export that another app owns (notifications: the flow's alert settings).

    `export(flow)` returns the section's JSON (references by name, no secrets) or None when the flow has
    nothing to carry; `resolve(value)` checks an imported value and maps names to this installation's
    objects, returning what `apply` needs and a list of `{"field", "message"}` errors (fields prefixed with
    the section's key); `apply(flow, resolved)` stores it on the new flow, in the import's transaction.
    Apps register their sections in `AppConfig.ready()`, so the designer does not import them.
    """

    key: str
    export: Callable[[Flow], Any]
    resolve: Callable[[Any], tuple[Any, list[dict[str, str]]]]
    apply: Callable[[Flow, Any], None]


EXPORT_SECTIONS: dict[str, ExportSection] = {}


def register_export_section(section: ExportSection) -> None:
    EXPORT_SECTIONS[section.key] = section


def _name_of(model: Any, value: Any, cache: dict[tuple[Any, Any], str | None]) -> str | None:
    key = (model, value)
    if key not in cache:
        row = model.objects.filter(pk=value).first() if _is_id(value) else None
        cache[key] = str(row.name) if row is not None else None
    return cache[key]


def export_flow(*, flow: Flow) -> dict[str, Any]:
    """A JSON document with the flow settings and its draft graph, references by name (connector, endpoint of
    that connector, script, flow) so it can be imported into another installation. Holds no secrets."""
    graph = copy.deepcopy(get_draft(flow=flow).graph)
    cache: dict[tuple[Any, Any], str | None] = {}
    for shape in graph.get("shapes", []):
        settings = shape.get("settings") if isinstance(shape, dict) else None
        if not isinstance(settings, dict):
            continue
        if shape.get("type") == "connector":
            endpoint_id = settings.get("endpoint")
            endpoint = (
                Endpoint.objects.filter(pk=endpoint_id).first()
                if isinstance(endpoint_id, int) and _is_id(endpoint_id)
                else None
            )
            settings["connector"] = _name_of(Connector, settings.get("connector"), cache)
            settings["endpoint"] = endpoint.name if endpoint is not None else None
        if shape.get("type") == "run_flow":
            settings["flow"] = _name_of(Flow, settings.get("flow"), cache)
        for script_setting, _version_setting, script_id, _version in script_references(shape):
            _set_path(settings, script_setting, _name_of(Script, script_id, cache))
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "flow": {name: getattr(flow, name) for name in FLOW_SETTINGS},
        "graph": graph,
    }
    for section in EXPORT_SECTIONS.values():
        value = section.export(flow)
        if value is not None:
            document[section.key] = value
    return document


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _set_path(settings: dict[str, Any], dotted: str, value: Any) -> None:
    target: Any = settings
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[parts[-1]] = value


def import_flow(
    *, document: Any, name: str | None = None, created_by: Any = None
) -> tuple[Flow, list[GraphError]]:
    """Creates a flow from an `export_flow` document, mapping names back to ids of this installation.

    Refuses (400) a document of another format, a graph that is not structurally sound, every reference that
    does not exist here (one error each), and a name that is already taken (give `name` to import under
    another). Returns the flow and the validation errors of its new draft.
    """
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ApiError(f"This is not a Patchbay flow export (expected format '{EXPORT_FORMAT}').")
    if document.get("format_version") != EXPORT_FORMAT_VERSION:
        raise ApiError(f"Unsupported export format version {document.get('format_version')!r}.")
    settings = document.get("flow")
    if not isinstance(settings, dict):
        raise ApiError("The export has no 'flow' settings object.")
    graph = copy.deepcopy(clean_graph(document.get("graph")))
    flow_name = name or settings.get("name")
    if not isinstance(flow_name, str) or not flow_name.strip():
        raise ApiError(
            "The imported flow needs a name.", [{"field": "name", "message": "This field is required."}]
        )
    if Flow.objects.filter(name=flow_name).exists():
        raise ApiError(
            f"A flow named '{flow_name}' already exists; give a new 'name' to import it under.",
            [{"field": "name", "message": f"A flow named '{flow_name}' already exists."}],
        )
    errors: list[Any] = list(_resolve_names(graph))
    resolved_sections: list[tuple[ExportSection, Any]] = []
    failed_sections: list[str] = []
    for section in EXPORT_SECTIONS.values():
        if document.get(section.key) is None:
            continue
        resolved, section_errors = section.resolve(document[section.key])
        if section_errors:
            errors.extend(section_errors)
            failed_sections.append(section.key)
        resolved_sections.append((section, resolved))
    if errors:
        detail = "The export references things that do not exist in this installation."
        if failed_sections and not any("shape" in error for error in errors):
            names = ", ".join(f"'{key}'" for key in failed_sections)
            detail = f"The export's {names} section is invalid or names things that do not exist here."
        raise ApiError(detail, errors)
    fields = {key: settings[key] for key in FLOW_SETTINGS if key in settings and key != "name"}
    checked = FlowSettingsSerializer(data={**fields, "name": flow_name})
    if not checked.is_valid():
        raise ApiError("The export's flow settings are invalid.", flatten_errors(checked.errors))
    try:
        with transaction.atomic():
            flow = create_flow(created_by=created_by, graph=graph, **checked.validated_data)
            for section, resolved in resolved_sections:
                section.apply(flow, resolved)
    except IntegrityError as exc:
        raise ApiError(f"A flow named '{flow_name}' already exists.") from exc
    return flow, validate_graph(graph, flow=flow)


def _resolve_names(graph: dict[str, Any]) -> list[GraphError]:
    """Replaces names by ids in place; one error per name that does not resolve."""
    errors: list[GraphError] = []

    def missing(shape_id: Any, setting: str, message: str) -> None:
        errors.append({"shape": shape_id, "setting": setting, "message": message})

    for shape in graph["shapes"]:
        settings = shape.get("settings")
        if not isinstance(settings, dict):
            continue
        shape_id = shape.get("id")
        if shape.get("type") == "connector":
            connector_name, endpoint_name = settings.get("connector"), settings.get("endpoint")
            connector = Connector.objects.filter(name=connector_name).first() if connector_name else None
            if connector_name is not None:
                if connector is None:
                    missing(shape_id, "connector", f"Connector '{connector_name}' does not exist here.")
                settings["connector"] = connector.pk if connector else None
            if endpoint_name is not None:
                endpoint = connector.endpoints.filter(name=endpoint_name).first() if connector else None
                if connector is not None and endpoint is None:
                    missing(
                        shape_id,
                        "endpoint",
                        f"Connector '{connector_name}' has no endpoint '{endpoint_name}' here.",
                    )
                settings["endpoint"] = endpoint.pk if endpoint else None
        if shape.get("type") == "run_flow" and settings.get("flow") is not None:
            called = Flow.objects.filter(name=settings["flow"]).first()
            if called is None:
                missing(shape_id, "flow", f"Flow '{settings['flow']}' does not exist here.")
            settings["flow"] = called.pk if called else None
        for script_setting, _version_setting, script_name, _version in script_references(shape):
            script = Script.objects.filter(name=script_name).first()
            if script is None:
                missing(shape_id, script_setting, f"Script '{script_name}' does not exist here.")
            _set_path(settings, script_setting, script.pk if script else None)
    return errors
