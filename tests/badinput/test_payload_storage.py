"""Payload storage with one owner (issue 13 item 4): content is stored once, referenced by its hash, and
deleted only when no row and no unfinished run refers to it; retention touches only finished runs; a run
whose stored payload vanished still reaches a final status."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from rest_framework.test import APIClient

from runs import services
from runs.models import Payload, PayloadContent, Run
from runs.retention import prune_runs
from tests.runs.conftest import drive, run_once, shape

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]

BIG = json.dumps({"order": 7, "lines": ["x" * 1000] * 300})  # ~300 KB: stored as a file, not inline


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.PATCHBAY_PAYLOAD_RETENTION_HOURS = 72
    return tmp_path


def age(payloads: Any, hours: float) -> None:
    payloads.update(created_at=timezone.now() - datetime.timedelta(hours=hours))


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()]


def test_identical_content_is_stored_once_and_named_by_its_hash(make_flow, media: Path) -> None:
    flow = make_flow([shape("a", "notify", message="a"), shape("b", "notify", message="b")])
    for _ in range(3):
        assert run_once(services.enqueue_run(flow=flow, trigger="api", payload=BIG)).status == "succeeded"

    names = set(Payload.objects.exclude(file="").values_list("file", flat=True))
    assert Payload.objects.exclude(file="").count() >= 12  # in and out of two steps, three runs
    assert len(names) == 1 and len(stored_files(media)) == 1
    import hashlib

    assert hashlib.sha256(BIG.encode()).hexdigest() in names.pop()


def test_pruning_the_older_row_keeps_the_file_the_younger_row_downloads(
    make_flow, viewer_client: APIClient, media: Path
) -> None:
    flow = make_flow([shape("a", "notify", message="a"), shape("b", "notify", message="b")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=BIG))
    older = Payload.objects.filter(run=run, step__shape_id="a")
    age(older, 100)
    younger = Payload.objects.get(run=run, step__shape_id="b", direction="input")

    removed = prune_runs()

    assert removed["payloads"] == 2 and removed["payload_files"] == 0
    download = viewer_client.get(f"/api/payloads/{younger.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).decode() == BIG


def test_a_file_goes_once_no_row_refers_to_it(make_flow, media: Path) -> None:
    flow = make_flow([shape("a", "notify", message="a")])
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=BIG))
    age(Payload.objects.filter(run=run), 100)
    assert len(stored_files(media)) == 1
    assert prune_runs()["payload_files"] == 0  # used a moment ago: kept for the retention time
    PayloadContent.objects.update(last_used_at=timezone.now() - datetime.timedelta(hours=100))

    removed = prune_runs()

    assert removed["payload_files"] == 1
    assert stored_files(media) == []


def test_retention_leaves_unfinished_runs_alone_and_they_resume(
    make_flow, make_connector, make_endpoint, upstream, media: Path
) -> None:
    connector = make_connector(base_url="https://shop.example.test/api")
    endpoint = make_endpoint(
        connector, path="/orders", method="POST", body_template="[[ payload ]]", body_format="raw"
    )
    flow = make_flow(
        [
            shape("tidy", "notify", message="tidy"),
            shape("send", "connector", connector=connector.pk, endpoint=endpoint.pk, retries=2),
        ]
    )
    upstream.add("POST /api/orders", httpx.Response(503), {"ok": True})
    waiting = run_once(services.enqueue_run(flow=flow, trigger="api", payload=BIG))
    assert waiting.status == Run.Status.QUEUED  # waiting for its step retry
    # A finished run with the same content, old enough to prune.
    finished = run_once(
        services.enqueue_run(flow=make_flow([shape("a", "notify", message="a")]), trigger="api", payload=BIG)
    )
    age(Payload.objects.all(), 100)

    removed = prune_runs()

    assert removed["payloads"] >= 2
    assert not Payload.objects.filter(run=finished).exists()
    assert Payload.objects.filter(run=waiting).count() >= 3  # the unfinished run's rows stay
    assert len(stored_files(media)) == 1
    resumed = drive(waiting)
    assert resumed.status == Run.Status.SUCCEEDED, resumed.error
    assert upstream.calls("POST /api/orders")[-1].content.decode() == BIG


def test_a_run_whose_final_payload_file_is_gone_still_reaches_a_final_status(
    make_flow, make_connector, make_endpoint, upstream, media: Path
) -> None:
    connector = make_connector(base_url="https://shop.example.test/api")
    endpoint = make_endpoint(connector, path="/orders", method="GET")
    shapes = [
        shape("trigger", "trigger", kind="manual"),
        shape("keep", "notify", message="kept"),
        shape("fetch", "connector", connector=connector.pk, endpoint=endpoint.pk, retries=2),
        shape(
            "drop",
            "filter",
            conditions=[{"source": "payload", "path": "never", "operator": "exists"}],
        ),
    ]
    connections = [
        {"source": "trigger", "target": "keep"},
        {"source": "trigger", "target": "fetch"},
        {"source": "fetch", "target": "drop"},
    ]
    flow = make_flow(shapes, connections)
    upstream.add("GET /api/orders", httpx.Response(503), {"ok": True})
    run = run_once(services.enqueue_run(flow=flow, trigger="api", payload=BIG))
    if run.status != Run.Status.QUEUED or not run.checkpoint.get("final"):
        pytest.fail(
            f"the run should wait for its step retry with a final payload: {run.status} {run.checkpoint}"
        )
    # The stored final payload disappears (a disk lost, an operator's clean-up).
    for path in stored_files(media):
        path.unlink()
    assert not default_storage.exists(run.checkpoint["final"]["file"])

    ended = run_once(run)

    assert ended.status == Run.Status.FAILED
    assert "FileNotFoundError" in ended.error or "no longer stored" in ended.error
    assert ended.lease_owner == "" and ended.finished_at is not None
