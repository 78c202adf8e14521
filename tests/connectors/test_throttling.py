"""Failed logins and wrong API tokens are throttled (on purpose here; the rest of the suite runs without)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

PASSWORD = "erin-editor-password-1"


@pytest.fixture
def throttle_cache() -> Iterator[None]:
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_failed_logins_lock_the_user_out_from_that_address(editor_user) -> None:
    client = Client()
    for _ in range(2):
        wrong = client.post("/login/", {"username": editor_user.username, "password": "guess"})
        assert wrong.status_code == 200  # the form again, with its error
    assert client.post("/login/", {"username": editor_user.username, "password": "guess"}).status_code == 429

    locked = client.post("/login/", {"username": editor_user.username, "password": "erin-editor-password-1"})

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    elsewhere = Client(REMOTE_ADDR="192.0.2.10").post(
        "/login/", {"username": editor_user.username, "password": "erin-editor-password-1"}
    )
    assert elsewhere.status_code == 302


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_a_successful_login_resets_the_count(editor_user) -> None:
    client = Client()
    for _ in range(2):
        client.post("/login/", {"username": editor_user.username, "password": "guess"})
    assert (
        client.post(
            "/login/", {"username": editor_user.username, "password": "erin-editor-password-1"}
        ).status_code
        == 302
    )
    client.logout()
    for _ in range(2):
        client.post("/login/", {"username": editor_user.username, "password": "guess"})
    assert (
        client.post(
            "/login/", {"username": editor_user.username, "password": "erin-editor-password-1"}
        ).status_code
        == 302
    )


@override_settings(PATCHBAY_TOKEN_FAILURE_LIMIT=3, PATCHBAY_TOKEN_FAILURE_WINDOW=60)
def test_wrong_api_tokens_are_throttled_per_address(throttle_cache, viewer_user) -> None:
    good = Token.objects.create(user=viewer_user).key
    attacker = APIClient(REMOTE_ADDR="203.0.113.7")
    for attempt in range(3):
        attacker.credentials(HTTP_AUTHORIZATION=f"Token wrong-{attempt}")
        assert attacker.get("/api/flows/").status_code == 401

    attacker.credentials(HTTP_AUTHORIZATION=f"Token {good}")
    refused = attacker.get("/api/flows/")

    assert refused.status_code == 429
    assert "Too many failed token authentications" in refused.json()["detail"]
    other = APIClient(REMOTE_ADDR="198.51.100.4")
    other.credentials(HTTP_AUTHORIZATION=f"Token {good}")
    assert other.get("/api/flows/").status_code == 200


@override_settings(PATCHBAY_TOKEN_FAILURE_LIMIT=3)
def test_good_tokens_and_sessions_are_not_counted(throttle_cache, viewer_user) -> None:
    good = Token.objects.create(user=viewer_user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {good}")
    for _ in range(10):
        assert client.get("/api/flows/").status_code == 200
