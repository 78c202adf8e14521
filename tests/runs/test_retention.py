"""Retention: prune_runs and `manage.py prune_runs` remove only log lines and payloads past their age."""

from __future__ import annotations

import datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from designer.models import Flow, FlowVersion
from runs.models import LogLine, Payload, Run, Step
from runs.retention import prune_runs

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 6, 10, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def run() -> Run:
    flow = Flow.objects.create(name="Orders")
    version = FlowVersion.objects.create(flow=flow, number=1, status=FlowVersion.Status.DEPLOYED)
    # Finished: retention touches only runs in a final state (tests/badinput/test_payload_storage.py).
    return Run.objects.create(
        flow=flow, flow_version=version, trigger="manual", available_at=NOW, status=Run.Status.SUCCEEDED
    )


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _line(run: Run, seq: int, age: datetime.timedelta) -> LogLine:
    return LogLine.objects.create(run=run, seq=seq, ts=NOW - age, message=f"line {seq}")


def _payload(run: Run, age: datetime.timedelta, *, file: bool = False) -> Payload:
    step = Step.objects.create(run=run, shape_id=f"shape-{Payload.objects.count()}", shape_type="script")
    payload = Payload(run=run, step=step, direction="output", body=None if file else "{}")
    if file:
        payload.file.save("body.txt", ContentFile(b"stored body"), save=False)
    payload.save()
    # created_at is auto_now_add: age it afterwards.
    Payload.objects.filter(pk=payload.pk).update(created_at=NOW - age)
    return payload


def test_prune_removes_only_log_lines_older_than_the_retention_days(run: Run, settings: Any) -> None:
    settings.PATCHBAY_LOG_RETENTION_DAYS = 7
    _line(run, 1, datetime.timedelta(days=8))
    _line(run, 2, datetime.timedelta(days=7, seconds=1))
    kept = [_line(run, 3, datetime.timedelta(days=6, hours=23)), _line(run, 4, datetime.timedelta(0))]

    removed = prune_runs(now=NOW)

    assert removed["log_lines"] == 2
    assert list(LogLine.objects.values_list("pk", flat=True)) == [line.pk for line in kept]
    assert Run.objects.filter(pk=run.pk).exists()  # the run itself stays


def test_prune_removes_old_payload_rows_and_their_files(run: Run, media: Path, settings: Any) -> None:
    settings.PATCHBAY_PAYLOAD_RETENTION_HOURS = 72
    old_inline = _payload(run, datetime.timedelta(hours=73))
    old_stored = _payload(run, datetime.timedelta(hours=80), file=True)
    fresh_stored = _payload(run, datetime.timedelta(hours=71), file=True)
    old_path = Path(old_stored.file.path)
    fresh_path = Path(fresh_stored.file.path)
    assert old_path.exists() and fresh_path.exists()

    removed = prune_runs(now=NOW)

    assert removed == {"log_lines": 0, "payloads": 2, "payload_files": 1}
    assert list(Payload.objects.values_list("pk", flat=True)) == [fresh_stored.pk]
    assert not Payload.objects.filter(pk=old_inline.pk).exists()
    assert not old_path.exists()
    assert fresh_path.exists()


def test_retention_periods_come_from_settings(run: Run, settings: Any) -> None:
    settings.PATCHBAY_LOG_RETENTION_DAYS = 1
    settings.PATCHBAY_PAYLOAD_RETENTION_HOURS = 1
    _line(run, 1, datetime.timedelta(days=2))
    _payload(run, datetime.timedelta(hours=2))
    assert prune_runs(now=NOW) == {"log_lines": 1, "payloads": 1, "payload_files": 0}


def test_manage_py_prune_runs_prints_what_it_removed(run: Run, settings: Any) -> None:
    settings.PATCHBAY_LOG_RETENTION_DAYS = 7
    LogLine.objects.create(run=run, seq=1, ts=timezone.now() - datetime.timedelta(days=30), message="old")
    LogLine.objects.create(run=run, seq=2, ts=timezone.now(), message="new")
    out = StringIO()
    call_command("prune_runs", stdout=out)
    assert "Removed 1 log line(s) older than 7 day(s), 0 payload(s)" in out.getvalue()
    assert list(LogLine.objects.values_list("message", flat=True)) == ["new"]
