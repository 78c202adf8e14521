"""Webhook callers in final_payload mode wake on run.status events of a cross-process channel layer."""

from __future__ import annotations

import os
import random

import pytest
from channels.layers import get_channel_layer

from runs.events import run_group
from runs.triggers.waiters import RunEventSubscription, wait_for_run_change

REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "")

needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="PATCHBAY_TEST_REDIS_URL is unset: no Redis channel layer"
)


PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"


# The pub/sub layer is the one production uses (docs/contracts.md); the list-based one still works.
@pytest.fixture(params=[PUBSUB_LAYER, "channels_redis.core.RedisChannelLayer"])
def redis_layer(settings, request):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": request.param, "CONFIG": {"hosts": [REDIS_URL]}}}
    return get_channel_layer()


def redis_subscriptions(channel: str) -> list[bytes]:
    """Redis channels with a subscriber whose name holds `channel` (the pub/sub layer subscribes each)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return [name for name in client.pubsub_channels() if channel.encode() in name]
    finally:
        client.close()


@pytest.mark.integration
@needs_redis
async def test_a_status_event_wakes_the_caller_and_log_lines_do_not(redis_layer):
    # A run id no other process on this Redis uses, so that nothing else talks to its group.
    run_id = random.randint(10**9, 2 * 10**9)
    subscription = RunEventSubscription()
    await subscription.watch(run_id)
    assert subscription.active
    try:
        await redis_layer.group_send(run_group(run_id), {"type": "run.log", "message": "step done"})
        assert await wait_for_run_change(run_id, 0.5, subscription) is False

        await redis_layer.group_send(run_group(run_id), {"type": "run.status", "status": "succeeded"})
        assert await wait_for_run_change(run_id, 10, subscription) is True
    finally:
        channel = subscription.channel
        await subscription.close()

    assert channel not in getattr(redis_layer, "receive_buffer", {})


@pytest.mark.integration
@needs_redis
async def test_a_woken_caller_leaves_no_subscription_behind_on_the_pubsub_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": PUBSUB_LAYER, "CONFIG": {"hosts": [REDIS_URL]}}}
    layer = get_channel_layer()
    run_id = random.randint(10**9, 2 * 10**9)
    subscriptions = []
    for _ in range(3):  # three callers of three runs, each woken by its run's final status
        subscription = RunEventSubscription()
        await subscription.watch(run_id)
        assert subscription.active and subscription.channel is not None
        subscriptions.append(subscription.channel)
        await layer.group_send(run_group(run_id), {"type": "run.status", "status": "succeeded"})
        assert await wait_for_run_change(run_id, 10, subscription) is True
        assert redis_subscriptions(subscription.channel) != []  # the receive ended normally: still subscribed
        await subscription.close()
        run_id += 1

    for channel in subscriptions:
        assert redis_subscriptions(channel) == [], channel
    assert redis_subscriptions(run_group(run_id - 1)) == []


async def test_without_a_cross_process_layer_the_caller_polls(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    subscription = RunEventSubscription()

    await subscription.watch(1)

    assert not subscription.active
    assert await wait_for_run_change(1, 0.05, subscription) is False
