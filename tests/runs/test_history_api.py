"""Run history API: runs list with filters and pagination, run detail, logs, payloads and attempts."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from designer.models import Flow, FlowVersion
from runs.models import Attempt, LogLine, Payload, Run, Step

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


def make_flow(name: str) -> tuple[Flow, FlowVersion]:
    flow = Flow.objects.create(name=name)
    version = FlowVersion.objects.create(flow=flow, number=1, status=FlowVersion.Status.DEPLOYED)
    return flow, version


def make_run(flow: Flow, version: FlowVersion, **fields: Any) -> Run:
    return Run.objects.create(flow=flow, flow_version=version, available_at=T0, **fields)


@pytest.fixture
def orders() -> tuple[Flow, FlowVersion]:
    return make_flow("Orders")


def ids(response: Any) -> list[int]:
    return [run["id"] for run in response.json()["results"]]


def test_runs_are_listed_newest_first_with_limit_offset_pagination(
    viewer_client: APIClient, orders: Any
) -> None:
    runs = [make_run(*orders, trigger="manual") for _ in range(5)]
    response = viewer_client.get("/api/runs/?limit=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert ids(response) == [runs[4].pk, runs[3].pk]
    assert body["previous"] is None and "offset=2" in body["next"]
    assert body["results"][0]["flow_name"] == "Orders"
    last_page = viewer_client.get("/api/runs/?limit=2&offset=4").json()
    assert [run["id"] for run in last_page["results"]] == [runs[0].pk]
    assert last_page["next"] is None


def test_runs_filter_by_flow_status_trigger_warnings_and_start_time(
    viewer_client: APIClient, orders: Any
) -> None:
    invoices = make_flow("Invoices")
    early = make_run(*orders, trigger="manual", status="succeeded", started_at=T0)
    failed = make_run(*orders, trigger="webhook", status="failed", started_at=T0 + datetime.timedelta(days=1))
    warned = make_run(
        *invoices,
        trigger="schedule",
        status="succeeded",
        has_warnings=True,
        started_at=T0 + datetime.timedelta(days=2),
    )
    queued = make_run(*orders, trigger="api")

    assert ids(viewer_client.get(f"/api/runs/?flow={invoices[0].pk}")) == [warned.pk]
    assert ids(viewer_client.get("/api/runs/?status=succeeded")) == [warned.pk, early.pk]
    assert ids(viewer_client.get("/api/runs/?trigger=webhook")) == [failed.pk]
    assert ids(viewer_client.get("/api/runs/?has_warnings=true")) == [warned.pk]
    assert ids(viewer_client.get("/api/runs/?has_warnings=false")) == [queued.pk, failed.pk, early.pk]
    after = (T0 + datetime.timedelta(hours=1)).isoformat()
    assert ids(viewer_client.get("/api/runs/", {"started_from": after})) == [warned.pk, failed.pk]
    assert ids(viewer_client.get("/api/runs/", {"started_to": "2026-03-02"})) == [failed.pk, early.pk]
    assert ids(
        viewer_client.get("/api/runs/", {"started_from": "2026-03-02", "started_to": "2026-03-02"})
    ) == [failed.pk]
    assert ids(viewer_client.get(f"/api/runs/?flow={orders[0].pk}&status=failed")) == [failed.pk]


@pytest.mark.parametrize(
    "query,field",
    [("status=sleeping", "status"), ("flow=abc", "flow"), ("started_from=yesterday", "started_from")],
)
def test_invalid_run_filters_get_400_naming_the_filter(
    viewer_client: APIClient, query: str, field: str
) -> None:
    response = viewer_client.get(f"/api/runs/?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_run_detail_has_steps_attempts_and_insights(viewer_client: APIClient, orders: Any) -> None:
    run = make_run(
        *orders,
        trigger="manual",
        status="succeeded",
        started_at=T0,
        finished_at=T0 + datetime.timedelta(milliseconds=1500),
    )
    connector = Step.objects.create(run=run, shape_id="get-order", shape_type="connector", status="succeeded")
    Step.objects.create(run=run, shape_id="tidy", shape_type="script", status="succeeded")
    Attempt.objects.create(
        step=connector,
        number=1,
        started_at=T0,
        request={
            "method": "POST",
            "url": "https://shop.test/o",
            "headers": {"Authorization": "***"},
            "body": "abcd",
        },
        response={"status": 503, "headers": {}, "body": "busy"},
        http_status=503,
        outcome="retry_step",
    )
    Attempt.objects.create(
        step=connector,
        number=2,
        started_at=T0,
        request={"method": "POST", "url": "https://shop.test/o", "headers": {}, "body": "abcd"},
        response={"status": 200, "headers": {}, "body": '{"id": 1}'},
        http_status=200,
        outcome="continue",
    )

    response = viewer_client.get(f"/api/runs/{run.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert [step["shape_id"] for step in body["steps"]] == ["get-order", "tidy"]
    attempts = body["steps"][0]["connector_attempts"]
    assert [attempt["number"] for attempt in attempts] == [1, 2]
    assert attempts[0]["request"]["headers"]["Authorization"] == "***"
    assert body["steps"][1]["connector_attempts"] == []
    # Computed from the rows: the engine stored no insights for this run.
    assert body["insights"] == {
        "duration_ms": 1500,
        "steps": 2,
        "http_calls": 2,
        "bytes_out": 8,
        "bytes_in": 13,
        "script_cpu_ms": 0,
    }


def test_insights_stored_by_the_engine_win(viewer_client: APIClient, orders: Any) -> None:
    stored = {
        "duration_ms": 7,
        "steps": 3,
        "http_calls": 1,
        "bytes_in": 10,
        "bytes_out": 2,
        "script_cpu_ms": 4.5,
    }
    run = make_run(*orders, trigger="manual", status="succeeded", insights=stored)
    assert viewer_client.get(f"/api/runs/{run.pk}/").json()["insights"] == stored


def test_unknown_ids_get_404(viewer_client: APIClient, orders: Any) -> None:
    run = make_run(*orders, trigger="manual")
    other = make_run(*orders, trigger="manual")
    step_of_other = Step.objects.create(run=other, shape_id="x", shape_type="script")
    for url in (
        "/api/runs/999999/",
        "/api/runs/999999/logs/",
        f"/api/runs/{run.pk}/steps/{step_of_other.pk}/payloads/",
        f"/api/runs/{run.pk}/steps/{step_of_other.pk}/attempts/",
        "/api/payloads/999999/download/",
    ):
        response = viewer_client.get(url)
        assert response.status_code == 404, url
        assert response.json()["detail"]


def _log(run: Run, seq: int, level: str) -> None:
    LogLine.objects.create(run=run, seq=seq, ts=T0, level=level, message=f"{level} {seq}")


def test_logs_after_a_sequence_number_and_from_a_minimum_level(viewer_client: APIClient, orders: Any) -> None:
    run = make_run(*orders, trigger="manual")
    for seq, level in enumerate(["debug", "info", "warning", "error", "info", "warning"], start=1):
        _log(run, seq, level)

    all_lines = viewer_client.get(f"/api/runs/{run.pk}/logs/").json()
    assert [line["seq"] for line in all_lines["results"]] == [1, 2, 3, 4, 5, 6]
    assert all_lines["results"][2] == {**all_lines["results"][2], "level": "warning", "message": "warning 3"}
    after = viewer_client.get(f"/api/runs/{run.pk}/logs/?after=4").json()
    assert [line["seq"] for line in after["results"]] == [5, 6]
    warnings = viewer_client.get(f"/api/runs/{run.pk}/logs/?level=warning").json()
    assert [line["seq"] for line in warnings["results"]] == [3, 4, 6]
    info_after_2 = viewer_client.get(f"/api/runs/{run.pk}/logs/?after=2&level=info").json()
    assert [line["seq"] for line in info_after_2["results"]] == [3, 4, 5, 6]
    bad = viewer_client.get(f"/api/runs/{run.pk}/logs/?level=loud")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "level"


def test_logs_page_on_with_next(viewer_client: APIClient, orders: Any) -> None:
    run = make_run(*orders, trigger="manual")
    for seq in range(1, 6):
        _log(run, seq, "info")
    first = viewer_client.get(f"/api/runs/{run.pk}/logs/?limit=2").json()
    assert first["count"] == 5 and [line["seq"] for line in first["results"]] == [1, 2]
    second = viewer_client.get(first["next"]).json()
    assert [line["seq"] for line in second["results"]] == [3, 4]
    third = viewer_client.get(second["next"]).json()
    assert [line["seq"] for line in third["results"]] == [5] and third["next"] is None


def test_step_payloads_are_listed_and_downloadable_from_db_and_storage(
    viewer_client: APIClient, orders: Any, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    run = make_run(*orders, trigger="manual")
    step = Step.objects.create(run=run, shape_id="tidy", shape_type="script")
    inline = Payload.objects.create(
        run=run,
        step=step,
        direction="input",
        body='{"order": 1}',
        size=12,
        meta={"content_type": "application/json"},
    )
    stored = Payload(run=run, step=step, direction="output", size=10_000)
    stored.file.save("big.txt", ContentFile(b"x" * 10_000), save=True)

    listing = viewer_client.get(f"/api/runs/{run.pk}/steps/{step.pk}/payloads/")
    assert listing.status_code == 200
    by_direction = {payload["direction"]: payload for payload in listing.json()}
    assert by_direction["input"]["body"] == '{"order": 1}' and by_direction["input"]["body_inline"] is True
    assert by_direction["output"]["body"] is None and by_direction["output"]["body_inline"] is False

    download = viewer_client.get(by_direction["input"]["download_url"])
    assert download.status_code == 200
    assert download.content == b'{"order": 1}'
    assert download["Content-Type"] == "application/json"
    assert download["Content-Disposition"].startswith("attachment;")
    assert f"/api/payloads/{inline.pk}/download/" == by_direction["input"]["download_url"]

    file_download = viewer_client.get(f"/api/payloads/{stored.pk}/download/")
    assert file_download.status_code == 200
    assert b"".join(file_download.streaming_content) == b"x" * 10_000
    assert "attachment" in file_download["Content-Disposition"]


def test_connector_attempts_show_request_and_response(viewer_client: APIClient, orders: Any) -> None:
    run = make_run(*orders, trigger="manual")
    step = Step.objects.create(run=run, shape_id="get-order", shape_type="connector")
    Attempt.objects.create(
        step=step,
        number=1,
        started_at=T0,
        duration_ms=12.5,
        request={"method": "GET", "url": "https://shop.test/o?key=***", "headers": {}, "body": None},
        response=None,
        outcome="transport_error",
        message="Connection refused",
    )
    response = viewer_client.get(f"/api/runs/{run.pk}/steps/{step.pk}/attempts/")
    assert response.status_code == 200
    [attempt] = response.json()
    assert attempt["request"]["url"].endswith("key=***")
    assert attempt["response"] is None
    assert attempt["outcome"] == "transport_error" and attempt["message"] == "Connection refused"


@pytest.mark.parametrize("client_name", ["admin_client", "editor_client", "viewer_client"])
def test_every_role_reads_the_history(client_name: str, request: pytest.FixtureRequest, orders: Any) -> None:
    client = request.getfixturevalue(client_name)
    run = make_run(*orders, trigger="manual")
    assert client.get("/api/runs/").status_code == 200
    assert client.get(f"/api/runs/{run.pk}/logs/").status_code == 200


def test_anonymous_gets_401_and_outsiders_403(
    anonymous_client: APIClient, outsider_client: APIClient, orders: Any
) -> None:
    run = make_run(*orders, trigger="manual")
    assert anonymous_client.get("/api/runs/").status_code == 401
    assert anonymous_client.get(f"/api/runs/{run.pk}/").status_code == 401
    assert outsider_client.get("/api/runs/").status_code == 403
    assert outsider_client.get(f"/api/runs/{run.pk}/logs/").status_code == 403


def test_history_is_read_only(editor_client: APIClient, orders: Any) -> None:
    run = make_run(*orders, trigger="manual")
    assert editor_client.delete(f"/api/runs/{run.pk}/").status_code == 405
    assert editor_client.post("/api/runs/", {}, format="json").status_code == 405


def test_run_detail_returns_input_variables_and_final_payload_cut_to_64_kib(
    viewer_client: APIClient, orders: Any
) -> None:
    long_input = "é" * 40_000  # 80,000 UTF-8 bytes
    run = make_run(
        *orders,
        trigger="manual",
        status="succeeded",
        input_payload=long_input,
        input_meta={"source": "upload", "filename": "orders.csv"},
        variables={"order_id": "42", "blob": "v" * 70_000},
        final_payload='{"done": true}',
    )
    detail = viewer_client.get(f"/api/runs/{run.pk}/").json()
    assert detail["input_payload"] == "é" * 32_768
    assert detail["input_payload_truncated"] is True
    assert detail["input_meta"] == {"source": "upload", "filename": "orders.csv"}
    assert detail["input_meta_truncated"] is False
    assert detail["variables"] == {"order_id": "42", "blob": "v" * 65_536}
    assert detail["variables_truncated"] is True
    assert detail["final_payload"] == '{"done": true}'
    assert detail["final_payload_truncated"] is False

    empty = make_run(*orders, trigger="manual", status="queued")
    detail = viewer_client.get(f"/api/runs/{empty.pk}/").json()
    assert detail["input_payload"] is None
    assert detail["final_payload"] is None
    assert detail["input_payload_truncated"] is False
    assert detail["final_payload_truncated"] is False
