"""Which flows use a connector, endpoint, script or flow ("used by"), and whether a draft differs from what
is deployed. Reads only.

A flow uses something when its draft or its deployed version references it. Inactive versions are left
out: nothing starts them except a retry of one of their own runs.
"""

from __future__ import annotations

from typing import Any, Literal

from config.api_errors import ApiError
from designer.graph.references import script_references
from designer.models import Flow, FlowVersion

Kind = Literal["connector", "endpoint", "script", "flow"]


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _references(shape: dict[str, Any], kind: Kind, pk: int) -> list[Any]:
    """The version settings (None = latest deployed) with which `shape` references `kind` `pk`."""
    settings = shape.get("settings")
    if not isinstance(settings, dict):
        return []
    if kind in ("connector", "endpoint"):
        return [None] if shape.get("type") == "connector" and _id(settings.get(kind)) == pk else []
    if kind == "flow":
        return [None] if shape.get("type") == "run_flow" and _id(settings.get("flow")) == pk else []
    return [version for _s, _v, script, version in script_references(shape) if _id(script) == pk]


def _label(version: FlowVersion) -> str:
    return "draft" if version.status == FlowVersion.Status.DRAFT else f"deployed v{version.number}"


def flows_using(*, kind: Kind, pk: int, latest_only: bool = False) -> list[dict[str, Any]]:
    """Flows whose draft or deployed version references `kind` `pk`, by name:
    `[{"id", "name", "versions": ["draft", "deployed v3"]}]`.

    With `latest_only` (scripts) only references that follow the script's latest deployed version (no
    pinned version) count: the flows that change when a new script version is deployed.
    """
    found: dict[int, dict[str, Any]] = {}
    versions = (
        FlowVersion.objects.filter(status__in=[FlowVersion.Status.DRAFT, FlowVersion.Status.DEPLOYED])
        .select_related("flow")
        .order_by("flow__name", "status")
    )
    for version in versions:
        if kind == "flow" and version.flow_id == pk:
            continue
        shapes = version.graph.get("shapes", []) if isinstance(version.graph, dict) else []
        for shape in shapes:
            if not isinstance(shape, dict):
                continue
            refs = _references(shape, kind, pk)
            if latest_only:
                refs = [ref for ref in refs if ref is None]
            if refs:
                entry = found.setdefault(
                    version.flow_id, {"id": version.flow_id, "name": version.flow.name, "versions": []}
                )
                entry["versions"].append(_label(version))
                break
    for entry in found.values():
        entry["versions"].sort(key=lambda label: (label != "draft", label))
    return sorted(found.values(), key=lambda entry: entry["name"].lower())


def refuse_if_used(*, kind: Kind, pk: int, name: str) -> None:
    """Raises ApiError 409 listing the flows that use `kind` `pk` (one error item per flow, with its id)."""
    users = flows_using(kind=kind, pk=pk)
    if not users:
        return
    listed = ", ".join(f"'{user['name']}'" for user in users)
    raise ApiError(
        f"{kind.capitalize()} '{name}' is used by the flows {listed}; change them first.",
        [
            {
                "field": "",
                "flow": user["id"],
                "flow_name": user["name"],
                "versions": user["versions"],
                "message": f"Used by flow '{user['name']}' ({', '.join(user['versions'])}).",
            }
            for user in users
        ],
        status_code=409,
    )


def _semantic(graph: Any) -> Any:
    """The graph without shape positions: moving a shape changes nothing about how the flow runs."""
    if not isinstance(graph, dict):
        return graph
    shapes = [
        {key: value for key, value in shape.items() if key != "position"}
        if isinstance(shape, dict)
        else shape
        for shape in graph.get("shapes", [])
    ]
    return {"shapes": shapes, "connections": graph.get("connections", [])}


def deployed_version_of(flow: Flow) -> FlowVersion | None:
    return FlowVersion.objects.filter(flow=flow, status=FlowVersion.Status.DEPLOYED).first()


def draft_status(*, flow: Flow, draft: FlowVersion) -> dict[str, Any]:
    """`{"deployed_version": n or None, "differs_from_deployed": bool}` for the draft of `flow`.

    A flow that was never deployed differs (Run now has nothing to run). Positions are ignored.
    """
    deployed = deployed_version_of(flow)
    if deployed is None:
        return {"deployed_version": None, "differs_from_deployed": True}
    return {
        "deployed_version": deployed.number,
        "differs_from_deployed": _semantic(deployed.graph) != _semantic(draft.graph),
    }
