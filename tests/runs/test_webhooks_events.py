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


@pytest.fixture
def redis_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    return get_channel_layer()


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
        await subscription.close()

    assert subscription.channel not in redis_layer.receive_buffer


async def test_without_a_cross_process_layer_the_caller_polls(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    subscription = RunEventSubscription()

    await subscription.watch(1)

    assert not subscription.active
    assert await wait_for_run_change(1, 0.05, subscription) is False
