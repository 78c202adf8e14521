"""Shared actors and clients: an admin, an editor, a viewer and an outsider (a user with no role)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.models import Model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from designer.models import Connector, Endpoint
from designer.serializers import EndpointSerializer
from designer.services import create_endpoint


def endpoint_as_the_api_creates_it(connector: Connector, **fields: Any) -> Endpoint:
    """An endpoint validated by the API's serializer and created by the service the API calls, so a test
    cannot build one with settings the API would refuse (as `Endpoint.objects.create` could)."""
    data = {
        "connector": connector.pk,
        **{name: value.pk if isinstance(value, Model) else value for name, value in fields.items()},
    }
    serializer = EndpointSerializer(data=data)
    assert serializer.is_valid(), f"the API refuses this endpoint: {serializer.errors}"
    return create_endpoint(**serializer.validated_data)


@pytest.fixture(scope="session", autouse=True)
def _no_database_sessions_left_behind(django_db_setup: None, django_db_blocker: Any) -> Any:
    """End the PostgreSQL sessions that threads of this process still hold before the test database is
    dropped: the webhook fast path's database threads and the alert senders keep their connections open by
    design (a server ends them when it exits), and PostgreSQL refuses to drop a database that is in use."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def _user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password=f"{username}-password-1")
    if role:
        # get_or_create: transactional tests flush every table, the role groups of the migration included.
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def admin_user(db) -> User:
    return _user("alice-admin", "admin")


@pytest.fixture
def editor_user(db) -> User:
    return _user("erin-editor", "editor")


@pytest.fixture
def viewer_user(db) -> User:
    return _user("victor-viewer", "viewer")


@pytest.fixture
def outsider_user(db) -> User:
    return _user("oscar-outsider", None)


def _client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    return _client_for(admin_user)


@pytest.fixture
def editor_client(editor_user) -> APIClient:
    return _client_for(editor_user)


@pytest.fixture
def viewer_client(viewer_user) -> APIClient:
    return _client_for(viewer_user)


@pytest.fixture
def outsider_client(outsider_user) -> APIClient:
    return _client_for(outsider_user)


@pytest.fixture
def anonymous_client(db) -> APIClient:
    return _client_for(None)
