"""Wrong tokens on the websocket routes count against the same per-address limit as on the REST API.

An attacker who is throttled on `/api/` after PATCHBAY_TOKEN_FAILURE_LIMIT wrong tokens must not be able to
go on guessing through `/ws/runs/` (the handshake answers 4401 for a wrong token and 4429 once throttled),
and the count is shared: failures on either channel add up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.core.cache import caches
from django.db import connections
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config import roles
from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER = "203.0.113.7"
BYSTANDER = "198.51.100.4"
TIMEOUT = 30


@pytest.fixture(autouse=True)
def role_groups(transactional_db: None) -> None:
    for role in roles.ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture(autouse=True)
def throttle_cache() -> Iterator[None]:
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    yield
    await database_sync_to_async(connections.close_all)()


@database_sync_to_async
def token_for(user: User) -> str:
    return Token.objects.get_or_create(user=user)[0].key


async def close_code(token: str, address: str, path: str = "/ws/runs/") -> int | None:
    """Connect to `path` with `token` from `address`: the close code sent, None if it stayed open."""
    communicator = WebsocketCommunicator(
        application,
        path,
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"authorization", f"Token {token}".encode()),
        ],
    )
    communicator.scope["client"] = (address, 40000)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected  # a refusal is accepted only to carry its close code
    try:
        if await communicator.receive_nothing(timeout=0.3):
            return None
        message = await communicator.receive_output(timeout=TIMEOUT)
        if message["type"] == "websocket.close":
            return int(message["code"])
        return None
    finally:
        await communicator.disconnect()


@override_settings(PATCHBAY_TOKEN_FAILURE_LIMIT=3, PATCHBAY_TOKEN_FAILURE_WINDOW=60)
async def test_wrong_websocket_tokens_are_throttled_per_address(viewer_user: User) -> None:
    good = await token_for(viewer_user)
    for attempt in range(3):
        assert await close_code(f"wrong-{attempt}", ATTACKER) == 4401

    assert await close_code(good, ATTACKER) == 4429  # even the right token, until the window has passed
    assert await close_code(good, BYSTANDER) is None  # another address is not affected


@override_settings(PATCHBAY_TOKEN_FAILURE_LIMIT=3, PATCHBAY_TOKEN_FAILURE_WINDOW=60)
async def test_failures_on_the_api_and_the_websocket_add_up(viewer_user: User) -> None:
    good = await token_for(viewer_user)

    @database_sync_to_async
    def guess_on_the_api(attempt: int) -> int:
        client = APIClient(REMOTE_ADDR=ATTACKER)
        client.credentials(HTTP_AUTHORIZATION=f"Token api-wrong-{attempt}")
        return int(client.get("/api/flows/").status_code)

    assert await guess_on_the_api(0) == 401
    assert await guess_on_the_api(1) == 401
    assert await close_code("ws-wrong", ATTACKER) == 4401

    assert await close_code(good, ATTACKER) == 4429

    @database_sync_to_async
    def api_with_good_token() -> int:
        client = APIClient(REMOTE_ADDR=ATTACKER)
        client.credentials(HTTP_AUTHORIZATION=f"Token {good}")
        return int(client.get("/api/flows/").status_code)

    assert await api_with_good_token() == 429


@override_settings(PATCHBAY_TOKEN_FAILURE_LIMIT=3, PATCHBAY_TOKEN_FAILURE_WINDOW=60)
async def test_good_websocket_tokens_are_not_counted(viewer_user: User) -> None:
    good = await token_for(viewer_user)
    for _ in range(5):
        assert await close_code(good, ATTACKER) is None
