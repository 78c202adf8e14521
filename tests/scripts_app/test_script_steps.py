"""Script calls seen from a run: their log lines reach the run log in bulk, and their limits name the step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from runs import services
from runs.models import LogLine, Run
from tests.runs.conftest import make_flow, make_script, run_once, shape

__all__ = ["make_flow", "make_script"]  # fixtures of the run tests, used here

PRINTS_A_LOT = (
    "def handle(data):\n    for index in range(300):\n        print('line', index)\n    return data\n"
)


def test_a_script_steps_log_lines_are_written_in_bulk(
    make_flow: Callable[..., Any], make_script: Callable[..., Any]
) -> None:
    script = make_script(PRINTS_A_LOT, name="Chatty")
    flow = make_flow([shape("chatty", "script", script=script.pk)])
    run = services.enqueue_run(flow=flow, trigger="api", payload="x")
    table = LogLine._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        run = run_once(run)

    assert run.status == Run.Status.SUCCEEDED, run.error
    lines = list(run.log_lines.order_by("seq").values_list("message", flat=True))
    printed = [line for line in lines if "] line " in line]
    assert len(printed) == 300
    assert printed[0].endswith("line 0") and printed[-1].endswith("line 299")
    inserts = [
        query for query in queries.captured_queries if query["sql"].startswith(f'INSERT INTO "{table}"')
    ]
    # The engine writes a step's lines with its checkpoint in bulk (SQLite splits a bulk insert into
    # batches of its variable limit), never one statement per printed line.
    assert len(inserts) < 10, len(inserts)


def test_a_script_step_over_the_log_limit_fails_naming_the_limit(
    make_flow: Callable[..., Any], make_script: Callable[..., Any]
) -> None:
    script = make_script(
        'def handle(data):\n    data["logs"] = ["x" * 40000, "y" * 40000]\n    return data\n'
    )
    flow = make_flow([shape("noisy", "script", script=script.pk)])

    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload="x"))

    assert run.status == Run.Status.FAILED
    assert "LogLimitExceeded" in run.error
    assert not run.log_lines.filter(message__contains="x" * 1000).exists()


pytestmark = pytest.mark.django_db
