"""runs.lifecycle: `run_finished` after the terminal transition commits, and an engine that does not depend
on the API-facing services module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runs import lifecycle
from runs.models import Run
from runs.signals import run_finished
from tests.runs.conftest import drive, run_once, shape

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def finished() -> Iterator[list[tuple[int, str]]]:
    seen: list[tuple[int, str]] = []

    def receiver(sender: Any, run: Run, **kwargs: Any) -> None:
        assert sender is Run
        # Sent after commit: the row already says what the run in hand says.
        seen.append((run.pk, Run.objects.get(pk=run.pk).status))

    run_finished.connect(receiver)
    try:
        yield seen
    finally:
        run_finished.disconnect(receiver)


def test_run_finished_is_sent_once_when_a_run_succeeds(
    make_flow, finished, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = lifecycle.enqueue_run(flow=make_flow([shape("note", "notify", message="hi")]), trigger="api")
    assert finished == []
    with django_capture_on_commit_callbacks(execute=True):
        run = run_once(run)

    assert run.status == Run.Status.SUCCEEDED
    assert finished == [(run.pk, Run.Status.SUCCEEDED)]


def test_run_finished_is_sent_for_a_failed_run_and_not_while_a_step_waits_for_its_retry(
    make_flow,
    make_connector,
    make_endpoint,
    upstream,
    finished,
    fast_retries,
    django_capture_on_commit_callbacks,
):
    connector = make_connector(base_url="https://erp.example.test")
    endpoint = make_endpoint(connector, path="/down")
    flow = make_flow([shape("call", "connector", connector=connector.pk, endpoint=endpoint.pk, retries=1)])
    upstream.add("GET /down", httpx.Response(503), httpx.Response(503))
    with django_capture_on_commit_callbacks(execute=True):
        run = run_once(lifecycle.enqueue_run(flow=flow, trigger="api"))
    assert run.status == Run.Status.QUEUED, "the step waits for its retry"
    assert finished == []

    with django_capture_on_commit_callbacks(execute=True):
        run = drive(run)
    assert run.status == Run.Status.FAILED
    assert finished == [(run.pk, Run.Status.FAILED)]


def test_run_finished_is_sent_when_a_queued_run_is_stopped_but_not_before_commit(
    make_flow, finished, django_capture_on_commit_callbacks
):
    run = lifecycle.enqueue_run(flow=make_flow([]), trigger="api")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        lifecycle.stop_run(run=run)
        assert finished == [], "receivers never see an uncommitted end"
    assert callbacks, "the signal waits for the commit"
    assert finished == [(run.pk, Run.Status.STOPPED)]


@pytest.mark.django_db(transaction=True)
def test_a_lost_lease_finishes_nothing(make_flow, finished):
    run = lifecycle.enqueue_run(flow=make_flow([]), trigger="api")
    claimed = lifecycle.claim_run(run_id=run.pk, worker_id="first")
    assert claimed is not None
    with pytest.raises(lifecycle.LeaseLost):
        lifecycle.finish_run(run=claimed, worker_id="someone-else", status=Run.Status.SUCCEEDED)
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING
    assert finished == []


LAYERED_MODULES = [
    "runs/lifecycle.py",
    "runs/tasks.py",
    "runs/triggers/schedule.py",
    *(str(path.relative_to(REPO)) for path in sorted((REPO / "runs/engine").rglob("*.py"))),
    *(str(path.relative_to(REPO)) for path in sorted((REPO / "runs/executors").rglob("*.py"))),
]


def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(module, inside a function) for every import of a `runs` module in `tree`."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, in_function))
            elif isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            visit(child, nested)

    visit(tree, False)
    return [(name, inside) for name, inside in found if name == "runs" or name.startswith("runs.")]


@pytest.mark.parametrize("module", LAYERED_MODULES)
def test_the_engine_executors_and_lifecycle_import_in_one_direction(module):
    imports = _imports(ast.parse((REPO / module).read_text()))
    assert not [name for name, inside in imports if inside], "no function-level imports of runs modules"
    if module.startswith("runs/engine/"):
        assert not [name for name, _ in imports if name in ("runs.services", "runs.executors")]
        assert not [name for name, _ in imports if name.startswith("runs.executors.")]
    if module in ("runs/lifecycle.py", *(m for m in LAYERED_MODULES if m.startswith("runs/executors/__"))):
        assert "runs.services" not in [name for name, _ in imports]
