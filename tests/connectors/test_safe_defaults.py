"""Safe defaults: DEBUG off, no traceback or secret on any error page, JSON 500s, protected /metrics."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from designer.models import Connector
from tests.connectors.conftest import CANARY

ROOT = Path(__file__).resolve().parents[2]
DATABASE_PASSWORD = "db-pa55-canary"


class BoomView(APIView):
    def get(self, request: Request) -> Response:
        raise RuntimeError("an unexpected bug")


def boom_hook(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("an unexpected bug in a plain view")


def boom_page(request: HttpRequest) -> HttpResponse:
    connector = Connector.objects.get(name="Shop")
    secrets = connector.get_secrets()
    token = secrets["token"]
    header = {"X-Api-Key": token}
    raise RuntimeError(f"failed with {len(header)} header")


urlpatterns = [
    path("api/boom/", BoomView.as_view()),
    path("hooks/boom/now/", boom_hook),
    path("boom/", boom_page),
    path("", include("config.urls")),
]


def test_debug_is_off_unless_asked_for() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PATCHBAY_DEBUG" and k != "PYTEST_VERSION"}
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup();" + (
        "from django.conf import settings; print(settings.DEBUG)"
    )
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == "False", shown.stderr
    env["PATCHBAY_DEBUG"] = "1"
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == "True", shown.stderr


@pytest.mark.parametrize("debug", [False, True])
@override_settings(ROOT_URLCONF=__name__)
def test_an_unexpected_api_error_is_a_json_500_with_a_log_line(settings, admin_client, caplog, debug) -> None:
    settings.DEBUG = debug
    with caplog.at_level(logging.ERROR, logger="patchbay.errors"):
        answer = admin_client.get("/api/boom/")
    assert answer.status_code == 500
    assert answer.json() == {"detail": answer.json()["detail"], "errors": []}
    assert "Internal server error" in answer.json()["detail"]
    assert "Traceback" not in answer.content.decode() and "an unexpected bug" not in answer.content.decode()
    assert "RuntimeError: an unexpected bug" in caplog.text


@pytest.mark.parametrize("debug", [False, True])
@override_settings(ROOT_URLCONF=__name__)
def test_an_unexpected_error_of_a_plain_view_under_hooks_is_json_too(settings, db, caplog, debug) -> None:
    settings.DEBUG = debug
    answer = Client(raise_request_exception=False).get("/hooks/boom/now/")
    assert answer.status_code == 500
    assert answer["Content-Type"] == "application/json"
    assert "in a plain view" not in answer.content.decode()
    assert "an unexpected bug in a plain view" in caplog.text


@override_settings(ROOT_URLCONF=__name__)
def test_even_a_debug_page_shows_no_connector_secret_and_no_url_password(settings, admin_user) -> None:
    settings.DEBUG = True
    settings.DATABASE_URL = f"postgres://patchbay:{DATABASE_PASSWORD}@db.internal:5432/patchbay"
    settings.CELERY_BROKER_URL = f"redis://:{DATABASE_PASSWORD}@cache.internal:6379/0"
    settings.REDIS_URL = f"redis://:{DATABASE_PASSWORD}@cache.internal:6379/0"
    settings.SOME_SERVICE = f"https://user:{DATABASE_PASSWORD}@svc.internal/"
    connector = Connector.objects.create(name="Shop", base_url="https://api.example.test", auth_type="bearer")
    connector.set_secrets({"token": CANARY})
    connector.save()
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)

    page = client.get("/boom/")

    html = page.content.decode()
    assert page.status_code == 500
    assert "failed with 1 header" in html  # it is the technical page
    assert CANARY not in html
    assert DATABASE_PASSWORD not in html


def test_production_500_page_has_no_details(settings, db) -> None:
    settings.DEBUG = False
    with override_settings(ROOT_URLCONF=__name__):
        page = Client(raise_request_exception=False).get("/boom/")
    assert page.status_code == 500
    assert "Traceback" not in page.content.decode() and "failed with" not in page.content.decode()


def test_a_recursing_template_in_the_connection_test_is_a_clear_400(editor_client, world) -> None:
    connector = Connector.objects.create(name="Shop", base_url="https://api.example.test", auth_type="bearer")
    connector.set_secrets({"token": CANARY})
    connector.save()
    endpoint = connector.endpoints.create(
        name="Loop",
        path="/x",
        method="POST",
        body_format="raw",
        body_template="[% macro f() %][[ f() ]][% endmacro %][[ f() ]]",
    )
    answer = editor_client.post(
        f"/api/connectors/{connector.pk}/test/", {"endpoint": endpoint.pk}, format="json"
    )
    assert answer.status_code == 400
    assert "recurses too deeply" in answer.json()["detail"]
    assert CANARY not in answer.content.decode()
    assert world.requests == []


def test_metrics_are_only_for_local_callers_by_default(client, db) -> None:
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 401


@override_settings(PATCHBAY_METRICS_TOKEN="metrics-t0ken", PATCHBAY_METRICS_ALLOWED_IPS=["10.1.0.0/16"])
def test_metrics_take_the_token_or_an_allowed_address(client, db) -> None:
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 401
    assert (
        client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong").status_code
        == 401
    )
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer metrics-t0ken"
        ).status_code
        == 200
    )
    assert client.get("/metrics", REMOTE_ADDR="10.1.4.2").status_code == 200
