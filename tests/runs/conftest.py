"""Shared fixtures for run tests: deploy a graph as a flow, make connectors, endpoints and deployed scripts,
fake an upstream API with httpx.MockTransport, and drive a run through the engine without executor threads.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.test import override_settings
from django.utils import timezone

from connectors.auth import clear_token_cache
from connectors.client import use_transport
from designer.models import Connector, Endpoint, Flow
from designer.services import create_connector, create_flow, deploy_flow
from runs import services
from runs.engine import execute_run
from runs.models import Run
from scripts_app.models import Script, ScriptVersion
from tests.conftest import endpoint_as_the_api_creates_it

_names = itertools.count(1)


def shape(shape_id: str, shape_type: str, name: str | None = None, **settings: Any) -> dict[str, Any]:
    """A graph shape; position is irrelevant to the engine."""
    return {
        "id": shape_id,
        "type": shape_type,
        "name": name or shape_id,
        "position": {"x": 0, "y": 0},
        "settings": settings,
    }


def chain(*shape_ids: str) -> list[dict[str, Any]]:
    """Connections a -> b -> c ..."""
    return [{"source": a, "target": b} for a, b in itertools.pairwise(shape_ids)]


@pytest.fixture
def make_flow(db) -> Callable[..., Flow]:
    """`make_flow(shapes, connections, **flow_settings)` creates a flow and deploys the graph (validated)."""

    def factory(
        shapes: list[dict[str, Any]], connections: list[dict[str, Any]] | None = None, **fields: Any
    ) -> Flow:
        if not any(s["type"] == "trigger" for s in shapes):
            shapes = [shape("trigger", "trigger", kind="manual"), *shapes]
        if connections is None:
            connections = chain(*[s["id"] for s in shapes])
        fields.setdefault("name", f"Flow {next(_names)}")
        flow = create_flow(graph={"shapes": shapes, "connections": connections}, **fields)
        deploy_flow(flow=flow)
        return flow

    return factory


@pytest.fixture
def make_connector(db) -> Callable[..., Connector]:
    """`make_connector(base_url=..., auth_type=..., secrets={...}, **fields)`."""

    def factory(*, secrets: dict[str, str] | None = None, **fields: Any) -> Connector:
        fields.setdefault("name", f"Connector {next(_names)}")
        fields.setdefault("base_url", "https://api.example.test")
        return create_connector(secrets=secrets, **fields)

    return factory


@pytest.fixture
def make_endpoint(db) -> Callable[..., Endpoint]:
    """`make_endpoint(connector, path=..., method=..., **fields)`."""

    def factory(connector: Connector, **fields: Any) -> Endpoint:
        fields.setdefault("name", f"Endpoint {next(_names)}")
        return endpoint_as_the_api_creates_it(connector, **fields)

    return factory


@pytest.fixture
def make_script(db) -> Callable[..., Script]:
    """`make_script(code, kind="general")`: a script whose code is deployed as version 1 (and the draft)."""

    def factory(code: str, *, kind: str = Script.Kind.GENERAL, name: str | None = None) -> Script:
        script = Script.objects.create(name=name or f"Script {next(_names)}", kind=kind, code=code)
        ScriptVersion.objects.create(
            script=script,
            number=1,
            code=code,
            status=ScriptVersion.Status.DEPLOYED,
            deployed_at=timezone.now(),
        )
        return script

    return factory


def run_once(run: Run, *, worker_id: str = "test-worker") -> Run:
    """Claim `run` (making it due first) and execute it once, as an executor iteration would."""
    run.refresh_from_db()
    if run.status == Run.Status.QUEUED and run.available_at > timezone.now():
        Run.objects.filter(pk=run.pk).update(available_at=timezone.now())
    claimed = services.claim_run(run_id=run.pk, worker_id=worker_id)
    assert claimed is not None, f"run {run.pk} could not be claimed ({run.status})"
    execute_run(run.pk, worker_id=worker_id)
    run.refresh_from_db()
    return run


def drive(run: Run, *, max_iterations: int = 25) -> Run:
    """Execute `run` until it ends, fast-forwarding step-retry waits (visible in `available_at`)."""
    for _ in range(max_iterations):
        run = run_once(run)
        if run.is_terminal:
            return run
    raise AssertionError(f"run {run.pk} did not end after {max_iterations} iterations ({run.status})")


@dataclass
class Upstream:
    """A fake HTTP API: `routes` maps "METHOD /path" to a handler or a list of responses served in turn."""

    routes: dict[str, Any] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def add(self, key: str, *responses: Any) -> None:
        self.routes[key] = (
            list(responses) if len(responses) != 1 or not callable(responses[0]) else responses[0]
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.path}"
        route = self.routes.get(key)
        if route is None:
            return httpx.Response(599, text=f"no route for {key}")
        if callable(route):
            return route(request)
        response = route.pop(0) if len(route) > 1 else route[0]
        if isinstance(response, Exception):
            raise response
        if isinstance(response, (dict, list)):
            return httpx.Response(200, json=response)
        return response

    def calls(self, key: str) -> list[httpx.Request]:
        method, _, path = key.partition(" ")
        return [r for r in self.requests if r.method == method and r.url.path == path]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """Every outbound call of the engine inside the test goes to this fake API."""
    fake = Upstream()
    clear_token_cache()
    with use_transport(httpx.MockTransport(fake.handle)):
        yield fake
    clear_token_cache()


@pytest.fixture
def fast_retries() -> Iterator[None]:
    """Tiny backoff so tests never wait; the computed waits are still visible in `available_at`."""
    with override_settings(PATCHBAY_RETRY_DELAY=0.01, PATCHBAY_RETRY_DELAY_MAX=60.0):
        yield


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)
