"""Backoff of step and run retries: `retry_delay * 2**(attempt-1)`, capped, with jitter (DESIGN section 5)."""

from __future__ import annotations

import httpx
import pytest
from django.utils import timezone

from runs import services
from runs.models import Run
from runs.services import backoff_delay
from tests.runs.conftest import run_once, shape


def test_backoff_doubles_per_attempt_with_bounded_jitter(settings):
    settings.PATCHBAY_RETRY_DELAY = 2.0
    settings.PATCHBAY_RETRY_DELAY_MAX = 1000.0
    for attempt, plain in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0)]:
        delays = {backoff_delay(attempt=attempt) for _ in range(50)}
        assert all(plain <= d <= plain * 1.25 for d in delays)
        assert len(delays) > 1, "jitter spreads retries"


def test_backoff_is_capped(settings):
    settings.PATCHBAY_RETRY_DELAY = 10.0
    settings.PATCHBAY_RETRY_DELAY_MAX = 30.0
    assert backoff_delay(attempt=8) == 30.0
    assert 20.0 <= backoff_delay(attempt=2, base=10.0) <= 25.0


def test_the_shapes_retry_delay_overrides_the_default(
    make_flow, make_connector, make_endpoint, upstream, settings
):
    settings.PATCHBAY_RETRY_DELAY = 1000.0
    settings.PATCHBAY_RETRY_DELAY_MAX = 5000.0
    connector = make_connector()
    endpoint = make_endpoint(connector, path="/x")
    flow = make_flow(
        [shape("c", "connector", connector=connector.pk, endpoint=endpoint.pk, retries=1, retry_delay=3)]
    )
    upstream.add("GET /x", httpx.Response(502))
    run = run_once(services.enqueue_run(flow=flow, trigger="api"))

    wait = (run.available_at - timezone.now()).total_seconds()
    assert 2 < wait <= 3.75


def test_a_run_retry_waits_the_flows_backoff(
    make_flow, make_connector, make_endpoint, make_script, upstream, settings
):
    settings.PATCHBAY_RETRY_DELAY = 40.0
    script = make_script(
        "def handle(data):\n    data['response_code'] = 2\n    return data\n", kind="response"
    )
    connector = make_connector()
    endpoint = make_endpoint(connector, path="/x")
    flow = make_flow(
        [shape("c", "connector", connector=connector.pk, endpoint=endpoint.pk, response_script=script.pk)],
        max_run_retries=2,
    )
    upstream.add("GET /x", {"ok": True})
    first = run_once(services.enqueue_run(flow=flow, trigger="api"))
    second = Run.objects.get(retry_of=first)
    wait = (second.available_at - timezone.now()).total_seconds()
    assert 35 < wait <= 50

    second = run_once(second)
    third = Run.objects.get(retry_of=second)
    assert third.attempt == 3
    wait = (third.available_at - timezone.now()).total_seconds()
    assert 75 < wait <= 100, "the second run retry waits twice as long"


@pytest.mark.parametrize("retries", [0, 2])
def test_a_step_is_attempted_exactly_retries_plus_one_times(
    make_flow, make_connector, make_endpoint, upstream, retries
):
    from tests.runs.conftest import drive

    connector = make_connector()
    endpoint = make_endpoint(connector, path="/x")
    flow = make_flow(
        [
            shape(
                "c",
                "connector",
                connector=connector.pk,
                endpoint=endpoint.pk,
                retries=retries,
                retry_delay=0.01,
            )
        ]
    )
    upstream.add("GET /x", httpx.Response(500))
    run = drive(services.enqueue_run(flow=flow, trigger="api"))
    assert run.status == Run.Status.FAILED
    assert len(upstream.requests) == retries + 1
    assert run.steps.get(shape_id="c").attempts == retries + 1
