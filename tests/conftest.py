"""Shared actors and clients: an admin, an editor, a viewer and an outsider (a user with no role)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


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
