"""The runs admin: read-only lists and the retry / stop actions, which go through the run services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from designer.services import create_flow, deploy_flow
from runs.logs import write_log
from runs.models import LogLine, Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root-admin", "root@example.test", "root-password-1"))
    return client


def make_run(status: str) -> Run:
    flow = Run.objects.first().flow if Run.objects.exists() else create_flow(name="Admin flow")
    if not flow.versions.filter(status="deployed").exists():
        deploy_flow(flow=flow)
    run = Run.objects.create(
        flow=flow,
        flow_version=flow.versions.get(status="deployed"),
        trigger=Run.Trigger.API,
        status=status,
        available_at=timezone.now(),
    )
    write_log(run=run, level=LogLine.Level.INFO, message="first line of this run")
    return run


def test_the_run_list_and_detail_show_runs_with_their_log_lines(admin_site_client):
    run = make_run(Run.Status.FAILED)

    listing = admin_site_client.get("/admin/runs/run/?status__exact=failed")
    detail = admin_site_client.get(f"/admin/runs/run/{run.pk}/change/")

    assert listing.status_code == 200
    assert f"/admin/runs/run/{run.pk}/change/" in listing.content.decode()
    assert detail.status_code == 200
    assert "first line of this run" in detail.content.decode()


def test_runs_cannot_be_added_in_the_admin(admin_site_client):
    assert admin_site_client.get("/admin/runs/run/add/").status_code == 403


def test_the_retry_action_queues_the_next_attempt(admin_site_client):
    failed = make_run(Run.Status.FAILED)

    response = admin_site_client.post(
        "/admin/runs/run/", {"action": "retry_runs", "_selected_action": [failed.pk]}, follow=True
    )

    assert response.status_code == 200
    retry = Run.objects.get(retry_of=failed)
    assert retry.status == "queued"
    assert retry.attempt == 2
    assert "1 run(s) retried." in response.content.decode()


def test_the_stop_action_stops_queued_runs_and_reports_finished_ones(admin_site_client):
    queued = make_run(Run.Status.QUEUED)
    finished = make_run(Run.Status.SUCCEEDED)

    response = admin_site_client.post(
        "/admin/runs/run/", {"action": "stop_runs", "_selected_action": [queued.pk, finished.pk]}, follow=True
    )

    queued.refresh_from_db()
    assert queued.status == "stopped"
    assert Run.objects.get(pk=finished.pk).status == "succeeded"
    page = response.content.decode()
    assert "1 run(s) stopped." in page
    assert f"Run {finished.pk} has already ended" in page
