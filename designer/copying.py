"""Writes that copy a flow, connector or script under a new name (the lists' "Duplicate" action)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.db import transaction

from config.api_errors import ApiError
from designer.models import Connector, Endpoint, Flow, FlowVersion

NAME_LIMIT = 200


def free_name(base: str, taken: Callable[[str], bool]) -> str:
    """`base (copy)`, or `base (copy 2)`, `base (copy 3)` ... : the first name for which `taken` is false."""
    for number in range(1, 1000):
        suffix = " (copy)" if number == 1 else f" (copy {number})"
        candidate = base[: NAME_LIMIT - len(suffix)] + suffix
        if not taken(candidate):
            return candidate
    raise ApiError(f"Too many copies of '{base}'; give the copy a name.")


def _checked_name(name: str | None, base: str, taken: Callable[[str], bool]) -> str:
    if name is None:
        return free_name(base, taken)
    if taken(name):
        raise ApiError("That name is taken.", [{"field": "name", "message": f"'{name}' already exists."}])
    return name


def copy_flow(*, flow: Flow, name: str | None = None, user: Any = None) -> Flow:
    """A new flow with `flow`'s settings and its draft graph (not deployed; a new webhook key, disabled
    schedules are not an issue because nothing runs until the copy is deployed). Raises ApiError 400 when
    `name` is taken."""
    with transaction.atomic():
        new_name = _checked_name(name, flow.name, lambda n: Flow.objects.filter(name=n).exists())
        draft = FlowVersion.objects.get(flow=flow, status=FlowVersion.Status.DRAFT)
        created = Flow.objects.create(
            name=new_name,
            description=flow.description,
            enabled=flow.enabled,
            priority=flow.priority,
            variables=copy.deepcopy(flow.variables),
            max_run_retries=flow.max_run_retries,
            max_concurrent_runs=flow.max_concurrent_runs,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        FlowVersion.objects.create(
            flow=created, status=FlowVersion.Status.DRAFT, graph=copy.deepcopy(draft.graph)
        )
    return created


def copy_connector(*, connector: Connector, name: str | None = None) -> Connector:
    """A new connector with `connector`'s settings, its (still encrypted) secrets and copies of its
    endpoints. Raises ApiError 400 when `name` is taken."""
    with transaction.atomic():
        new_name = _checked_name(name, connector.name, lambda n: Connector.objects.filter(name=n).exists())
        endpoints = list(Endpoint.objects.filter(connector=connector).order_by("id"))
        created = Connector.objects.get(pk=connector.pk)
        created.pk = None
        created.id = None
        created._state.adding = True
        created.name = new_name
        created.default_headers = copy.deepcopy(connector.default_headers)
        created.save()
        for endpoint in endpoints:
            endpoint.pk = None
            endpoint.id = None
            endpoint._state.adding = True
            endpoint.connector = created
            endpoint.save()
    return created
