"""Writes of the designer domain: flows and their versions, connectors and endpoints, export and import.

Every function is keyword-only and raises `config.api_errors.ApiError` (a 4xx with error items) when the
request cannot be done; callers never see a half-done write because multi-row changes run in one transaction.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from config.api_errors import ApiError, flatten_errors
from designer.graph import GraphError, structure_errors, validate_graph
from designer.graph.references import script_references
from designer.models import Connector, Endpoint, Flow, FlowVersion
from designer.serializers import FlowSettingsSerializer
from scripts_app.models import Script

EXPORT_FORMAT = "patchbay.flow"
EXPORT_FORMAT_VERSION = 1
FLOW_SETTINGS = (
    "name",
    "description",
    "enabled",
    "priority",
    "variables",
    "max_run_retries",
    "max_concurrent_runs",
)


def initial_graph() -> dict[str, Any]:
    """The graph of a new flow: one manual trigger."""
    return {
        "shapes": [
            {
                "id": "trigger",
                "type": "trigger",
                "name": "Start",
                "position": {"x": 0, "y": 0},
                "settings": {"kind": "manual"},
            }
        ],
        "connections": [],
    }


# --- Flows ------------------------------------------------------------------------------------------------


def create_flow(
    *, name: str, created_by: Any = None, graph: dict[str, Any] | None = None, **fields: Any
) -> Flow:
    """Creates the flow and its draft (one manual trigger unless `graph` is given) in one transaction."""
    unknown = set(fields) - set(FLOW_SETTINGS)
    if unknown:
        raise ValueError(f"Unknown flow settings: {sorted(unknown)}")
    with transaction.atomic():
        flow = Flow.objects.create(name=name, created_by=created_by, **fields)
        start_draft(flow=flow, graph=graph)
    return flow


def start_draft(*, flow: Flow, graph: dict[str, Any] | None = None) -> FlowVersion:
    """Creates the first draft of a flow saved without one (for example by the Django admin)."""
    return FlowVersion.objects.create(
        flow=flow, status=FlowVersion.Status.DRAFT, graph=graph if graph is not None else initial_graph()
    )


def update_flow(*, flow: Flow, **fields: Any) -> Flow:
    """Changes flow settings (not the graph: that is `save_draft`)."""
    unknown = set(fields) - set(FLOW_SETTINGS)
    if unknown:
        raise ValueError(f"Unknown flow settings: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(flow, name, value)
    flow.save(update_fields=[*fields, "updated_at"])
    return flow


def delete_flow(*, flow: Flow) -> None:
    """Deletes a flow with its versions and run history. Refused (409) while one of its runs is queued or
    running, because an executor may be working on it."""
    from runs.models import Run

    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk)
        active = locked.runs.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).count()
        if active:
            raise ApiError(
                f"Flow '{locked.name}' has {active} queued or running runs; stop them before deleting it.",
                status_code=409,
            )
        # Runs protect the versions they ran; delete them first so the versions can go.
        locked.runs.all().delete()
        locked.delete()


def get_draft(*, flow: Flow) -> FlowVersion:
    return FlowVersion.objects.get(flow=flow, status=FlowVersion.Status.DRAFT)


def clean_graph(graph: Any) -> dict[str, Any]:
    """The graph to store: only `shapes` and `connections`. Refuses (400) a graph without that structure."""
    errors = structure_errors(graph)
    if errors:
        raise ApiError("The flow graph is malformed.", errors)
    return {"shapes": graph["shapes"], "connections": graph["connections"]}


def save_draft(*, flow: Flow, graph: Any) -> tuple[FlowVersion, list[GraphError]]:
    """Stores `graph` as the flow's draft. The canvas autosaves, so a draft with semantic errors is kept;
    those errors are returned for it to show. A structurally broken graph is refused (400)."""
    cleaned = clean_graph(graph)
    with transaction.atomic():
        draft = FlowVersion.objects.select_for_update().get(flow=flow, status=FlowVersion.Status.DRAFT)
        draft.graph = cleaned
        draft.save(update_fields=["graph", "updated_at"])
    return draft, validate_graph(cleaned, flow=flow)


def deploy_flow(*, flow: Flow, user: Any = None, comment: str = "") -> FlowVersion:
    """Deploys the draft: it becomes version max+1 (deployed), the previously deployed version becomes
    inactive, and a new draft copied from it is created. The flow row is locked for the whole transaction so
    two deploys cannot race; the database constraints back this up. Raises ApiError (400) with the graph
    errors when the draft is invalid."""
    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk)
        draft = FlowVersion.objects.select_for_update().get(flow=locked, status=FlowVersion.Status.DRAFT)
        errors = validate_graph(draft.graph, flow=locked)
        if errors:
            raise ApiError("The flow graph is invalid.", errors)
        number = (locked.versions.aggregate(top=Max("number"))["top"] or 0) + 1
        locked.versions.filter(status=FlowVersion.Status.DEPLOYED).update(status=FlowVersion.Status.INACTIVE)
        draft.status = FlowVersion.Status.DEPLOYED
        draft.number = number
        draft.comment = comment
        draft.deployed_at = timezone.now()
        draft.deployed_by = user if getattr(user, "is_authenticated", False) else None
        draft.save(update_fields=["status", "number", "comment", "deployed_at", "deployed_by", "updated_at"])
        FlowVersion.objects.create(
            flow=locked, status=FlowVersion.Status.DRAFT, graph=copy.deepcopy(draft.graph)
        )
    return draft


def restore_version(*, flow: Flow, number: int) -> tuple[FlowVersion, list[GraphError]]:
    """Copies the graph of version `number` into the draft (the version itself is unchanged)."""
    with transaction.atomic():
        source = FlowVersion.objects.filter(flow=flow, number=number).first()
        if source is None:
            raise ApiError(f"Flow '{flow.name}' has no version {number}.", status_code=404)
        draft = FlowVersion.objects.select_for_update().get(flow=flow, status=FlowVersion.Status.DRAFT)
        draft.graph = copy.deepcopy(source.graph)
        draft.save(update_fields=["graph", "updated_at"])
    return draft, validate_graph(draft.graph, flow=flow)


# --- Export and import ------------------------------------------------------------------------------------


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
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "flow": {name: getattr(flow, name) for name in FLOW_SETTINGS},
        "graph": graph,
    }


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
    errors = _resolve_names(graph)
    if errors:
        raise ApiError("The export references things that do not exist in this installation.", errors)
    fields = {key: settings[key] for key in FLOW_SETTINGS if key in settings and key != "name"}
    checked = FlowSettingsSerializer(data={**fields, "name": flow_name})
    if not checked.is_valid():
        raise ApiError("The export's flow settings are invalid.", flatten_errors(checked.errors))
    try:
        flow = create_flow(created_by=created_by, graph=graph, **checked.validated_data)
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


# --- Connectors and endpoints -----------------------------------------------------------------------------

# Which settings each authentication type needs: (field, is_secret, message).
AUTH_REQUIREMENTS: dict[str, tuple[tuple[str, bool, str], ...]] = {
    Connector.AuthType.NONE: (),
    Connector.AuthType.BASIC: (
        ("username", False, "Basic authentication needs a username."),
        ("password", True, "Basic authentication needs a password."),
    ),
    Connector.AuthType.BEARER: (("token", True, "Bearer authentication needs a token."),),
    Connector.AuthType.API_KEY_HEADER: (
        ("api_key_name", False, "API key authentication needs the header name in 'api_key_name'."),
        ("api_key", True, "API key authentication needs an api_key."),
    ),
    Connector.AuthType.API_KEY_QUERY: (
        ("api_key_name", False, "API key authentication needs the query parameter name in 'api_key_name'."),
        ("api_key", True, "API key authentication needs an api_key."),
    ),
    Connector.AuthType.OAUTH2_CLIENT_CREDENTIALS: (
        ("token_url", False, "OAuth2 client credentials need a token_url."),
        ("client_id", False, "OAuth2 client credentials need a client_id."),
        ("client_secret", True, "OAuth2 client credentials need a client_secret."),
    ),
}


def apply_connector_changes(
    connector: Connector, fields: dict[str, Any], secrets: dict[str, str | None]
) -> None:
    """Sets fields and merges secrets on `connector` without saving: a secret whose value is None keeps its
    stored value, "" clears it. Raises ApiError (400) when the auth type lacks what it needs."""
    for name, value in fields.items():
        setattr(connector, name, value)
    current = connector.get_secrets() if connector.secrets_encrypted else {}
    for name, value in secrets.items():
        if value is None:
            continue
        if value == "":
            current.pop(name, None)
        else:
            current[name] = value
    problems = [
        {"field": field, "message": message}
        for field, is_secret, message in AUTH_REQUIREMENTS.get(connector.auth_type, ())
        if not (current.get(field) if is_secret else getattr(connector, field))
    ]
    if problems:
        raise ApiError("The connector's authentication settings are incomplete.", problems)
    connector.set_secrets(current)


def create_connector(*, secrets: dict[str, str | None] | None = None, **fields: Any) -> Connector:
    """Creates a connector; `secrets` maps secret names (Connector.SECRET_FIELDS) to values, encrypted."""
    connector = Connector()
    apply_connector_changes(connector, fields, secrets or {})
    connector.save()
    return connector


def update_connector(
    *, connector: Connector, secrets: dict[str, str | None] | None = None, **fields: Any
) -> Connector:
    """Changes a connector. A secret left out keeps its value; an empty string clears it."""
    apply_connector_changes(connector, fields, secrets or {})
    connector.save()
    return connector


def create_endpoint(**fields: Any) -> Endpoint:
    """Creates an endpoint from validated fields (designer.serializers.EndpointSerializer)."""
    return Endpoint.objects.create(**fields)


def update_endpoint(*, endpoint: Endpoint, **fields: Any) -> Endpoint:
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=[*fields, "updated_at"])
    return endpoint


def deployed_usages(*, kind: str, pk: int) -> list[str]:
    """Names of flows whose deployed version references the connector / endpoint with id `pk`."""
    names = []
    deployed = FlowVersion.objects.filter(status=FlowVersion.Status.DEPLOYED).select_related("flow")
    for version in deployed:
        for shape in version.graph.get("shapes", []):
            settings = shape.get("settings") if isinstance(shape, dict) else None
            if isinstance(settings, dict) and shape.get("type") == "connector" and settings.get(kind) == pk:
                names.append(version.flow.name)
                break
    return names


def delete_connector(*, connector: Connector) -> None:
    """Deletes a connector and its endpoints; refused (409) while a deployed flow version calls it."""
    users = deployed_usages(kind="connector", pk=connector.pk)
    if users:
        listed = ", ".join(f"'{n}'" for n in users)
        raise ApiError(
            f"Connector '{connector.name}' is used by the deployed flows {listed}.", status_code=409
        )
    connector.delete()


def delete_endpoint(*, endpoint: Endpoint) -> None:
    """Deletes an endpoint; refused (409) while a deployed flow version calls it."""
    users = deployed_usages(kind="endpoint", pk=endpoint.pk)
    if users:
        listed = ", ".join(f"'{n}'" for n in users)
        raise ApiError(f"Endpoint '{endpoint.name}' is used by the deployed flows {listed}.", status_code=409)
    endpoint.delete()
