"""Live run logs over websockets: /ws/runs/{id}/ and /ws/runs/ against config.asgi.application."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from config import roles
from config.asgi import application
from designer.models import Flow, FlowVersion
from designer.services import create_flow, deploy_flow
from runs.engine import execute_run
from runs.events import emit_run_event, log_line_event, run_group
from runs.logs import write_log
from runs.models import LogLine, Run
from runs.services import claim_run, enqueue_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def role_groups(transactional_db: None) -> None:
    """A transactional test flushes the tables, including the role groups the migrations created."""
    for role in roles.ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    """Channels' test communicator turns `close_old_connections` into a no-op while it waits (for
    Django's TestCase), so the consumers' database thread keeps a connection open past the test; on
    PostgreSQL that blocks dropping the test database. Close it."""
    yield
    await database_sync_to_async(connections.close_all)()


ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")
# Generous: only reached when the test fails (the consumer never sent what was expected).
RECEIVE_TIMEOUT = 30


def _create_run() -> Run:
    flow = Flow.objects.create(name=f"Orders {Flow.objects.count() + 1}")
    version = FlowVersion.objects.create(
        flow=flow, number=1, status=FlowVersion.Status.DEPLOYED, graph={"shapes": [], "connections": []}
    )
    return Run.objects.create(
        flow=flow, flow_version=version, trigger=Run.Trigger.MANUAL, available_at=timezone.now()
    )


create_run = database_sync_to_async(_create_run)


def _add_lines(run_id: int, seqs: list[int], *, emit: list[int] | None = None) -> None:
    """Store log lines `seqs` (each in its own transaction) and emit `run.log` for those in `emit`
    (all of them by default): leaving some out simulates events the channel layer lost."""
    for seq in seqs:
        with transaction.atomic():
            line = LogLine.objects.create(
                run_id=run_id, seq=seq, ts=timezone.now(), level="info", message=f"line {seq}"
            )
            if emit is None or seq in emit:
                emit_run_event(run_id, log_line_event(line))


add_lines = database_sync_to_async(_add_lines)


def _write_lines(run_id: int, count: int) -> None:
    """Lines through the engine's own writer (runs.logs.write_log), each committed on its own."""
    try:
        run = Run.objects.get(pk=run_id)
        for number in range(1, count + 1):
            write_log(run=run, level="info", message=f"line {number}")
    finally:
        connections.close_all()  # see close_database_thread_connections


# Not thread-sensitive: a writer thread of its own, like an executor thread in the server, not the one
# thread the consumers' database calls share.
write_lines = database_sync_to_async(_write_lines, thread_sensitive=False)


@database_sync_to_async
def start_engine_run(items: int) -> Run:
    """A deployed flow (trigger -> split -> notify) queued with `items` items: one notify line per item."""
    graph = {
        "shapes": [
            {"id": "trigger", "type": "trigger", "name": "Start", "position": {"x": 0, "y": 0},
             "settings": {"kind": "manual"}},
            {"id": "split", "type": "split", "name": "Split", "position": {"x": 200, "y": 0},
             "settings": {"format": "json"}},
            {"id": "say", "type": "notify", "name": "Say", "position": {"x": 400, "y": 0},
             "settings": {"message": "item [[payload.n]]"}},
        ],
        "connections": [{"source": "trigger", "target": "split"}, {"source": "split", "target": "say"}],
    }  # fmt: skip
    flow = create_flow(name=f"Items {items} {Flow.objects.count()}", graph=graph)
    deploy_flow(flow=flow)
    return enqueue_run(flow=flow, trigger="manual", payload=json.dumps([{"n": n} for n in range(items)]))


def _execute_engine_run(run_id: int) -> str:
    """Claim and execute the run as an executor would; returns its final status."""
    try:
        assert claim_run(run_id=run_id, worker_id="test-worker") is not None
        execute_run(run_id, worker_id="test-worker")
        return Run.objects.get(pk=run_id).status
    finally:
        connections.close_all()  # see close_database_thread_connections


execute_engine_run = database_sync_to_async(_execute_engine_run, thread_sensitive=False)


@database_sync_to_async
def stored_messages(run_id: int) -> list[str]:
    return list(LogLine.objects.filter(run_id=run_id).order_by("seq").values_list("message", flat=True))


@database_sync_to_async
def emit(run_id: int, event: dict[str, Any]) -> None:
    emit_run_event(run_id, event)


@database_sync_to_async
def token_for(user: User) -> str:
    return Token.objects.get_or_create(user=user)[0].key


async def watch(
    path: str, token: str | None = None, origin: bytes = b"http://localhost"
) -> WebsocketCommunicator:
    headers = [(b"origin", origin), HOST]
    if token is not None:
        headers.append((b"authorization", f"Token {token}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def connect_watcher(path: str, token: str) -> WebsocketCommunicator:
    communicator = await watch(path, token)
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    return communicator


async def receive(communicator: WebsocketCommunicator) -> dict[str, Any]:
    return await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)


async def receive_log_seqs(communicator: WebsocketCommunicator, count: int) -> list[int]:
    seqs = []
    for _ in range(count):
        message = await receive(communicator)
        assert message["type"] == "run.log", message
        seqs.append(message["seq"])
    return seqs


async def test_watcher_gets_one_snapshot_then_live_lines_steps_and_status(viewer_user: User) -> None:
    run = await create_run()
    await add_lines(run.pk, [1, 2, 3])
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))

    snapshot = await receive(communicator)
    assert snapshot["type"] == "run.snapshot"
    assert snapshot["run"]["id"] == run.pk
    assert snapshot["run"]["status"] == "queued"
    assert snapshot["steps"] == []
    assert [line["seq"] for line in snapshot["logs"]] == [1, 2, 3]
    assert snapshot["logs"][0]["message"] == "line 1"

    await add_lines(run.pk, [4, 5])
    await emit(run.pk, {"type": "run.step", "step": {"id": 9, "status": "succeeded"}})
    await emit(run.pk, {"type": "run.status", "status": "succeeded"})

    line4 = await receive(communicator)
    expected = {"type": "run.log", "run": run.pk, "seq": 4, "level": "info", "message": "line 4"}
    assert line4 == {**line4, **expected}
    assert await receive_log_seqs(communicator, 1) == [5]
    step = await receive(communicator)
    assert step["type"] == "run.step" and step["step"] == {"id": 9, "status": "succeeded"}
    status = await receive(communicator)
    assert status["type"] == "run.status" and status["status"] == "succeeded"
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


@pytest.fixture(params=["admin_user", "editor_user", "viewer_user"])
def role_user(request: pytest.FixtureRequest) -> User:
    return request.getfixturevalue(request.param)


async def test_every_role_may_watch(role_user: User) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(role_user))
    assert (await receive(communicator))["type"] == "run.snapshot"
    await communicator.disconnect()


async def test_lines_already_in_the_snapshot_are_not_sent_again(viewer_user: User) -> None:
    run = await create_run()
    await add_lines(run.pk, [1, 2])
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    snapshot = await receive(communicator)
    assert [line["seq"] for line in snapshot["logs"]] == [1, 2]

    # Events for lines the snapshot already held (delivered late by the layer) are dropped.
    await emit(run.pk, {"type": "run.log", "seq": 2, "ts": "", "level": "info", "step": None, "message": "x"})
    await add_lines(run.pk, [3])
    assert await receive_log_seqs(communicator, 1) == [3]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_lost_events_are_healed_from_the_database_in_order(viewer_user: User) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    assert (await receive(communicator))["logs"] == []

    # The layer lost the events of lines 1-3 and 5; line 4's event arrives first.
    await add_lines(run.pk, [1, 2, 3, 4, 5, 6], emit=[4, 6])
    assert await receive_log_seqs(communicator, 6) == [1, 2, 3, 4, 5, 6]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_a_batch_of_lines_from_the_sender_reaches_the_browser_as_single_lines(
    viewer_user: User,
) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    await receive(communicator)

    @database_sync_to_async
    def burst() -> list[dict[str, Any]]:
        with transaction.atomic():
            lines = [
                LogLine.objects.create(run_id=run.pk, seq=seq, ts=timezone.now(), message=f"line {seq}")
                for seq in (1, 2, 3)
            ]
        return [log_line_event(line) for line in lines]

    events = await burst()
    # What runs.events sends when lines queue up together: one layer message for several lines.
    await get_channel_layer().group_send(
        run_group(run.pk), {"type": "run.log.batch", "run": run.pk, "events": events}
    )
    assert [await receive(communicator) for _ in range(3)] == events
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_with_batch_1_lines_ready_together_come_as_one_frame(viewer_user: User) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/?batch=1", await token_for(viewer_user))
    await receive(communicator)

    await add_lines(run.pk, [1, 2, 3, 4, 5], emit=[5])  # 1-4 are healed from the database together
    healed = await receive(communicator)
    assert healed["type"] == "run.logs" and healed["run"] == run.pk
    assert [line["seq"] for line in healed["lines"]] == [1, 2, 3, 4]
    assert healed["lines"][0] == {**healed["lines"][0], "type": "run.log", "message": "line 1"}
    assert (await receive(communicator))["seq"] == 5  # alone: a plain run.log

    await communicator.send_json_to({"type": "resume", "after": 2})
    replay = await receive(communicator)
    assert replay["type"] == "run.logs" and [line["seq"] for line in replay["lines"]] == [3, 4, 5]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_final_status_first_sends_lines_whose_events_were_lost(viewer_user: User) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    await receive(communicator)

    await add_lines(run.pk, [1, 2, 3], emit=[1])
    await emit(run.pk, {"type": "run.status", "status": "failed"})
    assert await receive_log_seqs(communicator, 3) == [1, 2, 3]
    assert (await receive(communicator))["status"] == "failed"
    await communicator.disconnect()


async def test_lost_events_at_the_end_of_a_run_are_healed_after_a_quiet_moment(viewer_user: User) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    await receive(communicator)

    @database_sync_to_async
    def finish_with_lost_events() -> None:
        # One transaction: only line 1's event goes out (after commit); lines 2-3 and the final status
        # change have theirs lost, and no later event will reveal the gap.
        with transaction.atomic():
            _add_lines(run.pk, [1, 2, 3], emit=[1])
            Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)

    await finish_with_lost_events()
    assert await receive_log_seqs(communicator, 3) == [1, 2, 3]
    status = await receive(communicator)
    assert status["type"] == "run.status" and status["status"] == "succeeded" and status["run"] == run.pk
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


async def test_resume_after_a_disconnect_delivers_exactly_the_missing_lines(viewer_user: User) -> None:
    run = await create_run()
    token = await token_for(viewer_user)
    first = await connect_watcher(f"/ws/runs/{run.pk}/", token)
    await receive(first)
    await add_lines(run.pk, [1, 2, 3, 4, 5])
    assert await receive_log_seqs(first, 5) == [1, 2, 3, 4, 5]
    await first.disconnect()

    await add_lines(run.pk, [6, 7, 8])  # written while nobody watched

    second = await connect_watcher(f"/ws/runs/{run.pk}/", token)
    await receive(second)  # the snapshot: this client ignores it and resumes instead
    await second.send_json_to({"type": "resume", "after": 5})
    assert await receive_log_seqs(second, 3) == [6, 7, 8]
    await add_lines(run.pk, [9])
    assert await receive_log_seqs(second, 1) == [9]
    assert await second.receive_nothing(timeout=0.2)
    await second.disconnect()


async def test_reconnect_with_after_in_the_query_gets_only_the_newer_lines_in_the_snapshot(
    viewer_user: User,
) -> None:
    run = await create_run()
    await add_lines(run.pk, [1, 2, 3, 4])
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/?after=2", await token_for(viewer_user))
    snapshot = await receive(communicator)
    assert [line["seq"] for line in snapshot["logs"]] == [3, 4]
    await add_lines(run.pk, [5])
    assert await receive_log_seqs(communicator, 1) == [5]
    await communicator.disconnect()


async def test_resume_needs_a_non_negative_integer(viewer_user: User) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    await receive(communicator)
    await communicator.send_json_to({"type": "resume", "after": "five"})
    assert (await receive(communicator))["type"] == "error"
    await communicator.send_to(text_data="not json")
    assert (await receive(communicator))["type"] == "error"
    await communicator.disconnect()


@pytest.mark.slow
async def test_a_thousand_lines_arrive_complete_and_in_order(viewer_user: User) -> None:
    run = await create_run()
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    await receive(communicator)
    # Written by another thread while the consumer streams: the in-memory layer holds 100 messages per
    # channel, so this also exercises healing of dropped events.
    writer = asyncio.ensure_future(write_lines(run.pk, 1000))
    received = [await receive(communicator) for _ in range(1000)]
    await writer
    assert [message["seq"] for message in received] == list(range(1, 1001))
    assert [message["message"] for message in received] == [f"line {n}" for n in range(1, 1001)]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_anonymous_connections_are_refused() -> None:
    run = await create_run()
    communicator = await watch(f"/ws/runs/{run.pk}/")
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert connected  # accepted only to carry the close code
    closed = await communicator.receive_output(timeout=RECEIVE_TIMEOUT)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_bad_token_is_refused(viewer_user: User) -> None:
    run = await create_run()
    communicator = await watch(f"/ws/runs/{run.pk}/", token="not-a-real-token")
    await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert await communicator.receive_output(timeout=RECEIVE_TIMEOUT) == {
        "type": "websocket.close",
        "code": 4401,
    }


async def test_a_user_without_a_role_is_refused(outsider_user: User) -> None:
    run = await create_run()
    communicator = await watch(f"/ws/runs/{run.pk}/", token=await token_for(outsider_user))
    await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert await communicator.receive_output(timeout=RECEIVE_TIMEOUT) == {
        "type": "websocket.close",
        "code": 4403,
    }


async def test_cross_origin_connections_are_refused(viewer_user: User) -> None:
    run = await create_run()
    for path in (f"/ws/runs/{run.pk}/", "/ws/runs/"):
        communicator = await watch(path, token=await token_for(viewer_user), origin=b"http://evil.example")
        connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
        assert not connected


async def test_an_unknown_run_closes_with_4404(viewer_user: User) -> None:
    communicator = await watch("/ws/runs/987654/", token=await token_for(viewer_user))
    await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert await communicator.receive_output(timeout=RECEIVE_TIMEOUT) == {
        "type": "websocket.close",
        "code": 4404,
    }


async def test_a_session_cookie_authenticates_a_browser(viewer_user: User) -> None:
    from django.test import Client

    @database_sync_to_async
    def session_cookie() -> bytes:
        client = Client()
        client.force_login(viewer_user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    run = await create_run()
    communicator = WebsocketCommunicator(
        application, f"/ws/runs/{run.pk}/", headers=[ORIGIN, HOST, (b"cookie", await session_cookie())]
    )
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    assert (await receive(communicator))["type"] == "run.snapshot"
    await communicator.disconnect()


async def test_the_runs_feed_sends_the_status_of_every_run(editor_user: User) -> None:
    first, second = await create_run(), await create_run()
    feed = await connect_watcher("/ws/runs/", await token_for(editor_user))
    await emit(first.pk, {"type": "run.status", "status": "running"})
    await add_lines(first.pk, [1])  # log lines stay on the run's own group
    await emit(second.pk, {"type": "run.status", "status": "failed"})
    assert await receive(feed) == {"type": "run.status", "status": "running", "run": first.pk}
    assert await receive(feed) == {"type": "run.status", "status": "failed", "run": second.pk}
    assert await feed.receive_nothing(timeout=0.2)
    await feed.disconnect()


async def test_the_runs_feed_refuses_anonymous_and_roleless_users(outsider_user: User) -> None:
    for token, code in ((None, 4401), (await token_for(outsider_user), 4403)):
        communicator = await watch("/ws/runs/", token=token)
        await communicator.connect(timeout=RECEIVE_TIMEOUT)
        assert await communicator.receive_output(timeout=RECEIVE_TIMEOUT) == {
            "type": "websocket.close",
            "code": code,
        }


async def collect_until_final_status(communicator: WebsocketCommunicator) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = await receive(communicator)
        messages.append(message)
        if message["type"] == "run.status" and message["status"] in Run.TERMINAL:
            return messages


async def test_a_real_run_streams_snapshot_then_every_line_steps_and_status(viewer_user: User) -> None:
    run = await start_engine_run(items=20)
    communicator = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))
    snapshot = await receive(communicator)
    assert snapshot["type"] == "run.snapshot" and snapshot["run"]["status"] == "queued"

    status = await execute_engine_run(run.pk)
    assert status == "succeeded"
    messages = await collect_until_final_status(communicator)

    lines = [*snapshot["logs"], *(m for m in messages if m["type"] == "run.log")]
    stored = await stored_messages(run.pk)
    assert [line["seq"] for line in lines] == list(range(1, len(stored) + 1))
    assert [line["message"] for line in lines] == stored
    assert {f"item {n}" for n in range(20)} <= set(stored)
    steps = [m for m in messages if m["type"] == "run.step"]
    assert {step["step"]["shape_id"] for step in steps} >= {"split", "say"}
    assert [m["status"] for m in messages if m["type"] == "run.status"] == ["running", "succeeded"]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@pytest.mark.slow
async def test_a_watcher_that_never_reads_does_not_block_the_engine(viewer_user: User) -> None:
    run = await start_engine_run(items=300)
    sleeper = await connect_watcher(f"/ws/runs/{run.pk}/", await token_for(viewer_user))

    # The run completes while the watcher's socket is never read.
    assert await execute_engine_run(run.pk) == "succeeded"

    # ... and the watcher still gets everything, in order, when it finally reads.
    snapshot = await receive(sleeper)
    messages = await collect_until_final_status(sleeper)
    lines = [*snapshot["logs"], *(m for m in messages if m["type"] == "run.log")]
    stored = await stored_messages(run.pk)
    assert len(stored) > 300
    assert [line["message"] for line in lines] == stored
    await sleeper.disconnect()
