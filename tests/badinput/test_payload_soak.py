"""Soak (issue 13 item 4): 1,000 runs executed by two worker threads while a third prunes the run history
as hard as it can (retention 0 hours: every finished run's payloads and every idle stored text is fair
game at once). No run may lose a payload it still needs, and every run must end."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connections

from designer.models import Flow
from designer.services import create_flow, deploy_flow
from runs import lifecycle, payloads
from runs.engine import execute_claimed_run, runner
from runs.models import Payload, Run
from runs.retention import prune_runs

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(1800)]

RUNS = 1000
# Small texts go to storage in this test, so 1,000 runs exercise the files without writing gigabytes.
INLINE_LIMIT = 512


SHAPED = '{"order": [[ payload.order ]], "note": "[[ payload.note ]]", "done": true}'


def payload_for(number: int) -> str:
    # Every fourth run shares its text with others: shared stored files are the interesting case.
    key = number if number % 4 else 0
    return json.dumps({"order": key, "note": "x" * 1000})


@pytest.fixture
def flow(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flow:
    settings.MEDIA_ROOT = tmp_path
    settings.PATCHBAY_PAYLOAD_RETENTION_HOURS = 0
    settings.PATCHBAY_LOG_RETENTION_DAYS = 0
    # Short, so that files are deleted during the soak; a step's own window is milliseconds.
    settings.PATCHBAY_PAYLOAD_FILE_GRACE_SECONDS = 3
    monkeypatch.setattr(payloads, "INLINE_LIMIT", INLINE_LIMIT)
    monkeypatch.setattr(runner, "INLINE_LIMIT", INLINE_LIMIT)
    shapes = [
        {"id": "trigger", "type": "trigger", "name": "Start", "position": {"x": 0, "y": 0},
         "settings": {"kind": "manual"}},
        {"id": "tag", "type": "set_variables", "name": "Tag", "position": {"x": 1, "y": 0},
         "settings": {"variables": [{"name": "seen", "value": "yes", "scope": "meta"}]}},
        {"id": "shape", "type": "manual_payload", "name": "Shape", "position": {"x": 2, "y": 0},
         "settings": {"payload": SHAPED}},
        {"id": "say", "type": "notify", "name": "Say", "position": {"x": 3, "y": 0},
         "settings": {"message": "order [[ payload.order ]]"}},
    ]  # fmt: skip
    connections = [
        {"source": "trigger", "target": "tag"},
        {"source": "tag", "target": "shape"},
        {"source": "shape", "target": "say"},
    ]
    created = create_flow(name="Soak", graph={"shapes": shapes, "connections": connections})
    deploy_flow(flow=created)
    return created


def test_a_thousand_runs_with_pruning_beside_them_lose_no_payload_and_all_end(flow: Flow) -> None:
    expected = {}
    for number in range(1, RUNS + 1):
        run = lifecycle.enqueue_run(flow=flow, trigger=Run.Trigger.API, payload=payload_for(number))
        expected[run.pk] = number
    done = threading.Event()
    failures: list[BaseException] = []

    def work(worker_id: str) -> None:
        try:
            while True:
                run = lifecycle.claim_next_run(worker_id=worker_id)
                if run is None:
                    if not Run.objects.exclude(status__in=Run.TERMINAL).exists():
                        return
                    continue
                execute_claimed_run(run, worker_id=worker_id)
        except BaseException as error:  # reported by the test below
            failures.append(error)
        finally:
            connections.close_all()

    prunes = 0
    pruned = {"payloads": 0, "payload_files": 0}

    def prune() -> None:
        nonlocal prunes
        try:
            while not done.is_set():
                removed = prune_runs()
                prunes += 1
                for key in pruned:
                    pruned[key] += removed[key]
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    pruner = threading.Thread(target=prune)
    workers = [threading.Thread(target=work, args=(f"soak-{index}",)) for index in range(2)]
    pruner.start()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    done.set()
    pruner.join()

    assert not failures, failures
    assert prunes > 1 and pruned["payload_files"] > 0, (prunes, pruned)
    runs = {run.pk: run for run in Run.objects.filter(pk__in=expected)}
    unfinished = [pk for pk, run in runs.items() if not run.is_terminal]
    assert unfinished == []
    failed = {pk: run.error for pk, run in runs.items() if run.status != Run.Status.SUCCEEDED}
    assert failed == {}
    for pk, run in runs.items():
        final = json.loads(run.final_payload)
        assert final["order"] == json.loads(payload_for(expected[pk]))["order"] and final["done"] is True
    # Every payload row that is left still has its text.
    for payload in Payload.objects.exclude(file=""):
        assert default_storage.exists(payload.file.name), payload.file.name
