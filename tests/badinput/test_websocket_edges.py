"""Websocket edges of issue 13 item 7: oversized log lines and snapshots arrive cut, with a pointer to the
REST API, instead of closing the socket; the origin check compares scheme, host and port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.db import connections
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config import roles
from config.asgi import application
from designer.models import Flow, FlowVersion
from runs.events import emit_run_event, log_line_event
from runs.models import LogLine, Run

pytestmark = pytest.mark.django_db(transaction=True)

RECEIVE_TIMEOUT = 30
FRAME_LIMIT = 64 * 1024


@pytest.fixture(autouse=True)
def role_groups(transactional_db: None) -> None:
    for role in roles.ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    yield
    await database_sync_to_async(connections.close_all)()


@database_sync_to_async
def create_run() -> Run:
    flow = Flow.objects.create(name=f"Orders {Flow.objects.count() + 1}")
    version = FlowVersion.objects.create(
        flow=flow, number=1, status=FlowVersion.Status.DEPLOYED, graph={"shapes": [], "connections": []}
    )
    return Run.objects.create(
        flow=flow, flow_version=version, trigger=Run.Trigger.MANUAL, available_at=timezone.now()
    )


@database_sync_to_async
def add_line(run_id: int, seq: int, message: str, *, emit: bool = True) -> None:
    line = LogLine.objects.create(run_id=run_id, seq=seq, ts=timezone.now(), level="info", message=message)
    if emit:
        emit_run_event(run_id, log_line_event(line))


@database_sync_to_async
def token_for(user: User) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def communicator(
    path: str,
    token: str,
    *,
    origin: bytes = b"http://localhost",
    host: bytes = b"localhost",
    scheme: str | None = None,
) -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", host), (b"authorization", f"Token {token}".encode())]
    socket = WebsocketCommunicator(application, path, headers=headers)
    if scheme is not None:
        socket.scope["scheme"] = scheme
    return socket


async def receive_text(socket: WebsocketCommunicator) -> str:
    output = await socket.receive_output(timeout=RECEIVE_TIMEOUT)
    assert output["type"] == "websocket.send", output
    return output["text"]


@override_settings(PATCHBAY_WEBSOCKET_FRAME_LIMIT=FRAME_LIMIT)
async def test_an_oversized_log_line_is_cut_in_the_snapshot_and_live_with_a_pointer_to_the_api(
    viewer_user: User,
) -> None:
    run = await create_run()
    huge = "x" * (2 * 1024 * 1024)
    await add_line(run.pk, 1, huge, emit=False)
    socket = communicator(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    assert (await socket.connect(timeout=RECEIVE_TIMEOUT))[0]

    snapshot_text = await receive_text(socket)
    assert len(snapshot_text.encode()) <= FRAME_LIMIT
    snapshot = json.loads(snapshot_text)
    [line] = snapshot["logs"]
    assert line["message_truncated"] is True and line["message_length"] == len(huge)
    assert huge.startswith(line["message"]) and len(line["message"]) < len(huge)

    await add_line(run.pk, 2, huge)
    live_text = await receive_text(socket)
    assert len(live_text.encode()) <= FRAME_LIMIT
    live = json.loads(live_text)
    assert live["seq"] == 2 and live["message_truncated"] is True

    # The pointer leads to the whole line.
    client = APIClient()
    client.force_authenticate(viewer_user)
    page = await database_sync_to_async(client.get)(live["full_url"])
    assert page.status_code == 200
    assert [(row["seq"], row["message"]) for row in page.json()["results"]] == [(2, huge)]
    await socket.disconnect()


@override_settings(PATCHBAY_WEBSOCKET_FRAME_LIMIT=FRAME_LIMIT)
async def test_a_snapshot_beyond_the_frame_limit_keeps_the_newest_lines_and_says_so(
    viewer_user: User,
) -> None:
    run = await create_run()
    for seq in range(1, 301):
        await add_line(run.pk, seq, f"{seq:04d} " + "y" * 1000, emit=False)
    socket = communicator(f"/ws/runs/{run.pk}/?batch=1", await token_for(viewer_user))
    assert (await socket.connect(timeout=RECEIVE_TIMEOUT))[0]

    text = await receive_text(socket)
    assert len(text.encode()) <= FRAME_LIMIT
    snapshot = json.loads(text)
    seqs = [line["seq"] for line in snapshot["logs"]]
    assert snapshot["logs_truncated"] is True and snapshot["last_seq"] == 300
    assert seqs == list(range(seqs[0], 301)) and seqs[0] > 1

    # A resume replays all 300 lines as batch frames, each within the limit.
    await socket.send_json_to({"type": "resume", "after": 0})
    replayed: list[int] = []
    while len(replayed) < 300:
        frame = await receive_text(socket)
        assert len(frame.encode()) <= FRAME_LIMIT
        message = json.loads(frame)
        replayed.extend(line["seq"] for line in message.get("lines", [message]))
    assert replayed == list(range(1, 301))
    await socket.disconnect()


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        (b"http://localhost", b"localhost", None, True),
        (b"http://localhost:8000", b"localhost:8000", None, True),
        (b"https://localhost", b"localhost", "wss", True),
        (b"http://localhost:9999", b"localhost:8000", None, False),  # another port of the same host
        (b"http://localhost:8000", b"localhost", None, False),
        (b"https://localhost", b"localhost", None, False),  # https page, plain ws site
        (b"http://localhost", b"localhost", "wss", False),  # plain page, https site
        (b"http://evil.example", b"localhost", None, False),
        (b"null", b"localhost", None, False),
        (b"http://localhost", b"evil.example", None, False),  # a host not in ALLOWED_HOSTS
    ],
)
async def test_the_origin_must_match_scheme_host_and_port(
    viewer_user: User, origin: bytes, host: bytes, scheme: str | None, allowed: bool
) -> None:
    run = await create_run()
    for path in (f"/ws/runs/{run.pk}/", "/ws/runs/"):
        socket = communicator(path, await token_for(viewer_user), origin=origin, host=host, scheme=scheme)
        connected, _ = await socket.connect(timeout=RECEIVE_TIMEOUT)
        assert connected is allowed, (path, origin, host, scheme)
        await socket.disconnect()


@override_settings(CSRF_TRUSTED_ORIGINS=["https://app.example.com"])
async def test_a_trusted_origin_is_accepted(viewer_user: User) -> None:
    socket = communicator("/ws/runs/", await token_for(viewer_user), origin=b"https://app.example.com")
    connected, _ = await socket.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    await socket.disconnect()


@pytest.mark.parametrize(
    "message",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"type": "resume", "after": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"type": "resume", "after": ' + str(2**70) + "}",
        '{"type": "resume", "after": 0, "note": "\\ud800"}',
    ],
)
async def test_a_bad_json_message_gets_an_error_frame_and_the_socket_stays_open(
    viewer_user: User, message: str
) -> None:
    run = await create_run()
    await add_line(run.pk, 1, "first", emit=False)
    socket = communicator(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    assert (await socket.connect(timeout=RECEIVE_TIMEOUT))[0]
    await receive_text(socket)  # the snapshot

    await socket.send_to(text_data=message)
    assert json.loads(await receive_text(socket))["type"] == "error"

    await socket.send_json_to({"type": "resume", "after": 0})
    assert json.loads(await receive_text(socket))["seq"] == 1
    await socket.disconnect()
