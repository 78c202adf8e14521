"""The flow the crash tests run: a connector call to a local upstream, then two steps that only log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from designer.models import Flow
from runs import services
from runs.models import LogLine, Run
from tests.runs.conftest import shape


def crash_test_flow(
    make_flow: Callable[..., Flow],
    make_connector: Callable[..., Any],
    make_endpoint: Callable[..., Any],
    base_url: str,
) -> Flow:
    """trigger -> GET {base_url}orders/<order_id> -> manual payload -> notify (four steps)."""
    connector = make_connector(base_url=base_url, timeout=20.0)
    endpoint = make_endpoint(connector, method="GET", path="orders/[[payload.order_id]]")
    return make_flow(
        [
            shape("fetch", "connector", connector=connector.pk, endpoint=endpoint.pk, retries=0),
            shape("wrap", "manual_payload", payload='{"done": [[payload.order]]}'),
            shape("log", "notify", message="order [[payload.done]] done"),
        ]
    )


def enqueue(flow: Flow, count: int) -> list[int]:
    return [
        services.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload=json.dumps({"order_id": n})).pk
        for n in range(count)
    ]


def finished_count(run_ids: list[int]) -> int:
    return Run.objects.filter(pk__in=run_ids, status__in=Run.TERMINAL).count()


def resumed_run_ids(run_ids: list[int]) -> set[int]:
    """Runs whose lease expired (their executor died) and that another executor resumed."""
    return set(
        LogLine.objects.filter(run_id__in=run_ids, message__startswith="Lease expired").values_list(
            "run_id", flat=True
        )
    )


def order_of(run_ids: list[int]) -> dict[int, int]:
    return {
        pk: json.loads(payload)["order_id"]
        for pk, payload in Run.objects.filter(pk__in=run_ids).values_list("pk", "input_payload")
    }
