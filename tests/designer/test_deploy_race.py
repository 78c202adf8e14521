"""Two deploys of the same flow at once: the flow row lock serialises them, so versions stay consistent."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from designer.models import FlowVersion
from designer.services import create_flow, deploy_flow


@pytest.mark.django_db(transaction=True)
def test_concurrent_deploys_get_distinct_numbers_and_leave_one_deployed_and_one_draft() -> None:
    flow = create_flow(name="Raced")
    start = threading.Barrier(2)
    results: list[object] = []

    def deploy() -> None:
        try:
            start.wait()
            results.append(deploy_flow(flow=flow).number)
        except Exception as exc:  # recorded for the assertion below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [1, 2]  # type: ignore[type-var]
    statuses = sorted(FlowVersion.objects.filter(flow=flow).values_list("status", "number"), key=str)
    assert statuses == [("deployed", 2), ("draft", None), ("inactive", 1)]
