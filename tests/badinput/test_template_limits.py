"""Bounded templates (issue 13 item 2): arithmetic and sequence results beyond the limits are refused
with a clear step error, instead of freezing the executor or eating its memory."""

from __future__ import annotations

import pytest
from django.test import override_settings

from runs import services
from runs.models import Run
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.django_db


def run_template(make_flow, message: str, payload: str = '{"n": 3, "items": [1, 2, 3]}') -> Run:
    flow = make_flow([shape("say", "notify", "Say", message=message)])
    return run_once(services.enqueue_run(flow=flow, trigger="api", payload=payload))


@pytest.mark.parametrize(
    ("template", "limit"),
    [
        ("[[ 10 ** (5*10**6) ]]", "power"),
        ("[[ (2 ** 1000) ** 1000 ]]", "power"),
        ("[[ (10 ** 5000) * (10 ** 5000) * (10 ** 5000) * (10 ** 5000) * (10 ** 5000) ]]", "number"),
        ("[[ 'x' * 10**9 ]]", "repeat"),
        ("[[ [1, 2] * 10**9 ]]", "repeat"),
        ("[[ 10**9 * 'ab' ]]", "repeat"),
        ("[[ range(10**9) | list ]]", "range"),
        ("[% for i in range(5000) %][% for j in range(5000) %][% endfor %][% endfor %]", "range"),
        ("[% for i in range(2000) %][[ 'x' * 2000 ]][% endfor %]", "output"),
        ("[[ 'x' | center(10**9) ]]", "width"),
        ("[[ 'x'.ljust(10**9) ]]", "width"),
        ("[[ '%999999999d' % 1 ]]", "width"),
        ("[[ '{:999999999}'.format(1) ]]", "width"),
    ],
)
@override_settings(PATCHBAY_TEMPLATE_MAX_OUTPUT=1_000_000)
def test_a_template_beyond_a_limit_fails_its_step_with_a_clear_error(
    make_flow, template: str, limit: str
) -> None:
    run = run_template(make_flow, template)

    assert run.status == Run.Status.FAILED
    step = run.steps.get(shape_id="say")
    assert step.status == "failed"
    assert "Template" in step.error and limit in step.error, step.error
    assert "limit" in step.error


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("[[ 2 ** 64 ]]", str(2**64)),
        ("[[ payload.n ** 3 ]]", "27"),
        ("[[ 1.5 ** 2 ]]", "2.25"),
        ("[[ '-' * 20 ]]", "-" * 20),
        ("[[ payload['items'] * 2 ]]", "[1, 2, 3, 1, 2, 3]"),
        ("[% for i in range(payload.n) %][[ i ]][% endfor %]", "012"),
        ("[[ 'x' | center(5) ]]", "  x  "),
        ("[[ '%05d' % 42 ]]", "00042"),
        ("[[ '{:>4}'.format(7) ]]", "   7"),
    ],
)
def test_templates_within_the_limits_render_as_before(make_flow, template: str, rendered: str) -> None:
    run = run_template(make_flow, template)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.log_lines.filter(message=rendered).exists(), list(
        run.log_lines.values_list("message", flat=True)
    )
