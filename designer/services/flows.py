"""Writes of flows and their versions: create, change and delete flows, save and deploy drafts, restore
versions.

Every function is keyword-only and raises `config.api_errors.ApiError` (a 4xx with error items) when the
request cannot be done; multi-row changes run in one transaction.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from config.api_errors import ApiError
from config.revisions import check_revision
from designer.graph import GraphError, structure_errors, validate_graph
from designer.models import Flow, FlowVersion

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


def save_draft(
    *, flow: Flow, graph: Any, based_on: int | None = None
) -> tuple[FlowVersion, list[GraphError]]:
    """Stores `graph` as the flow's draft. The canvas autosaves, so a draft with semantic errors is kept;
    those errors are returned for it to show. A structurally broken graph is refused (400); a change based
    on an older draft revision than the stored one is refused (409, config/revisions.py)."""
    cleaned = clean_graph(graph)
    with transaction.atomic():
        draft = FlowVersion.objects.select_for_update().get(flow=flow, status=FlowVersion.Status.DRAFT)
        check_revision(based_on=based_on, current=draft.revision, what=f"The draft of flow '{flow.name}'")
        draft.graph = cleaned
        draft.revision += 1
        draft.save(update_fields=["graph", "revision", "updated_at"])
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
        # The new draft holds the same graph: it keeps the revision, so an editor open on it saves on.
        FlowVersion.objects.create(
            flow=locked,
            status=FlowVersion.Status.DRAFT,
            graph=copy.deepcopy(draft.graph),
            revision=draft.revision,
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
        draft.revision += 1  # an editor open on the draft now holds a stale revision
        draft.save(update_fields=["graph", "revision", "updated_at"])
    return draft, validate_graph(draft.graph, flow=flow)
