"""Demo content for a fresh Patchbay: a connector to the demo shop API (demo/api.py), its endpoints, two
response scripts and two deployed flows that use them.

`load_demo_content` creates what is missing and changes what it created only while it is still as the demo
left it. Each object's demo settings (the fields the demo sets, a flow's draft graph, a script's draft code)
are fingerprinted in a `DemoRecord`; an object whose settings no longer match that fingerprint was changed by
someone and is kept as it is, and said so. A script or flow is deployed only when it is still the demo's and
its deployed version differs from the demo's.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from config.api_errors import ApiError
from config.local_url import local_url
from demo.models import DemoRecord
from designer.models import Connector, Endpoint, Flow, FlowVersion
from designer.services import (
    create_connector,
    create_endpoint,
    create_flow,
    deploy_flow,
    save_draft,
    update_connector,
    update_endpoint,
    update_flow,
)
from scripts_app.models import Script, ScriptVersion
from scripts_app.services import create_script, deploy_script, update_script

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# What load_demo wrote before it kept fingerprints: such a connector is taken over, and follows the address.
LEGACY_BASE_URL = "http://127.0.0.1:8000/demo-api/"
CONNECTOR_NAME = "Demo shop API"
CONNECTOR_DESCRIPTION = "The demo shop API that Patchbay serves itself under /demo-api/."
SESSION_FLOW_NAME = "Demo: session check"
STATUS_FLOW_NAME = "Demo: order status check"

SESSION_SCRIPT_NAME = "Demo: invalid session check"
SESSION_SCRIPT = '''\
def handle(data):
    """Some APIs answer 200 with an error in the body when the session expired.

    Response code 2 fails this run and queues a new attempt of it after a backoff
    (up to the flow's max_run_retries); refresh the session and the next attempt succeeds:
    POST /demo-api/session/refresh
    """
    response = data["response"]
    if response["status"] == 200 and "Invalid session" in response["body"]:
        data["response_code"] = 2
        data["message"] = "Invalid session"
    return data
'''

STATUS_SCRIPT_NAME = "Demo: order status check"
STATUS_SCRIPT = '''\
import json


def handle(data):
    """Checks that the API returned the order we asked for, and retries the run while the order has
    the status in the flow variable `retry_status` (response code 2)."""
    response = data["response"]
    if response["status"] != 200:
        data["response_code"] = 3
        data["message"] = "Order lookup answered HTTP " + str(response["status"])
        return data
    order = json.loads(response["body"])
    expected = str(data["variables"].get("order_number", ""))
    if str(order.get("number")) != expected:
        data["response_code"] = 3
        data["message"] = "Asked for order " + expected + " but got " + str(order.get("number"))
        return data
    retry_status = data["flow"]["variables"].get("retry_status", "processing")
    if order.get("status") == retry_status:
        data["response_code"] = 2
        data["message"] = "Order " + expected + " is still " + retry_status + "; retrying the run"
    else:
        data["message"] = "Order " + expected + " is " + str(order.get("status"))
    return data
'''


def demo_api_url(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """The base URL of the demo API of a server listening on `host`:`port`, as this machine reaches it."""
    return local_url(host, port, "/demo-api/")


@dataclass
class DemoContent:
    connector: Connector
    endpoints: dict[str, Endpoint]
    scripts: dict[str, Script]
    flows: dict[str, Flow]
    changes: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def fingerprint(state: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True, cls=DjangoJSONEncoder).encode()).hexdigest()


Model = TypeVar("Model", Connector, Endpoint, Script, Flow)


@dataclass
class _Spec(Generic[Model]):
    """How the demo keeps one object: its record key, how to find, read, create and change it."""

    key: str
    label: str
    target: dict[str, Any]
    find: Callable[[int | None], Model | None]  # by id, or by the demo's name when None
    state: Callable[[Model], dict[str, Any]]
    create: Callable[[], Model]
    update: Callable[[Model], None]
    adoptable: Callable[[dict[str, Any]], bool] = lambda state: False


def _find(model: type[Model], pk: int | None, name: str) -> Model | None:
    lookup: dict[str, Any] = {"pk": pk} if pk else {"name": name}
    return model.objects.filter(**lookup).first()


def _ignore(_result: object) -> None:
    """For the `update` callbacks: the services return the changed object, which the caller already has."""


def _keep(spec: _Spec[Model], content: DemoContent) -> tuple[Model, bool]:
    """The object of `spec`, created when missing and brought to the demo's settings when nobody changed it.
    Returns it and whether it is still the demo's (False: a user's, left as it is)."""
    record = DemoRecord.objects.filter(key=spec.key).first()
    obj = spec.find(record.object_id) if record is not None else None
    if obj is None:
        # Never recorded, or deleted since: an object of the demo's name is the demo's only if it looks so.
        record = None
        obj = spec.find(None)
    if obj is None:
        obj = spec.create()
        content.changes.append(f"created {spec.label}")
    else:
        current = spec.state(obj)
        if record is None and current != spec.target and not spec.adoptable(current):
            content.kept.append(f"{spec.label} exists and is not the demo's: left as it is")
            return obj, False
        if record is not None and fingerprint(current) != record.fingerprint:
            content.kept.append(f"kept your changes to {spec.label}")
            return obj, False
        if current != spec.target:
            spec.update(obj)
            content.changes.append(f"updated {spec.label}")
    DemoRecord.objects.update_or_create(
        key=spec.key, defaults={"object_id": obj.pk, "fingerprint": fingerprint(spec.state(obj))}
    )
    return obj, True


def _connector_state(connector: Connector) -> dict[str, Any]:
    return {
        "name": connector.name,
        "description": connector.description,
        "base_url": connector.base_url,
        "auth_type": connector.auth_type,
        "timeout": connector.timeout,
    }


def _keep_connector(base_url: str, content: DemoContent) -> Connector:
    target: dict[str, Any] = {
        "name": CONNECTOR_NAME,
        "description": CONNECTOR_DESCRIPTION,
        "base_url": base_url,
        "auth_type": Connector.AuthType.NONE,
        "timeout": 10.0,
    }
    fields: dict[str, Any] = {key: value for key, value in target.items() if key != "name"}
    connector, _ = _keep(
        _Spec(
            key="connector",
            label=f"connector '{CONNECTOR_NAME}'",
            target=target,
            find=lambda pk: _find(Connector, pk, CONNECTOR_NAME),
            state=_connector_state,
            create=lambda: create_connector(name=CONNECTOR_NAME, **fields),
            update=lambda connector: _ignore(update_connector(connector=connector, **fields)),
            adoptable=lambda state: state == {**target, "base_url": LEGACY_BASE_URL},
        ),
        content,
    )
    return connector


ENDPOINTS = {
    "List orders": ("GET", "orders/"),
    "Get order": ("GET", "orders/[[variables.order_number]]"),
    "Get order (session)": ("GET", "session/orders/[[variables.order_number]]"),
    "Refresh session": ("POST", "session/refresh"),
}


def _endpoint_state(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "connector": endpoint.connector_id,
        "name": endpoint.name,
        "method": endpoint.method,
        "path": endpoint.path,
    }


def _keep_endpoints(connector: Connector, content: DemoContent) -> dict[str, Endpoint]:
    endpoints = {}
    for name, (method, path) in ENDPOINTS.items():
        target = {"connector": connector.pk, "name": name, "method": method, "path": path}

        def find(pk: int | None, name: str = name) -> Endpoint | None:
            lookup = {"pk": pk} if pk else {"connector": connector, "name": name}
            return Endpoint.objects.filter(**lookup).first()

        def create(name: str = name, method: str = method, path: str = path) -> Endpoint:
            return create_endpoint(connector=connector, name=name, method=method, path=path)

        def update(endpoint: Endpoint, method: str = method, path: str = path) -> None:
            update_endpoint(endpoint=endpoint, connector=connector, method=method, path=path)

        endpoints[name], _ = _keep(
            _Spec(
                key=f"endpoint:{name}",
                label=f"endpoint '{name}'",
                target=target,
                find=find,
                state=_endpoint_state,
                create=create,
                update=update,
            ),
            content,
        )
    return endpoints


def _script_state(script: Script) -> dict[str, Any]:
    return {"name": script.name, "kind": script.kind, "description": script.description, "code": script.code}


def _keep_script(name: str, code: str, description: str, content: DemoContent) -> Script:
    target = {"name": name, "kind": Script.Kind.RESPONSE, "description": description, "code": code}
    script, demos = _keep(
        _Spec(
            key=f"script:{name}",
            label=f"script '{name}'",
            target=target,
            find=lambda pk: _find(Script, pk, name),
            state=_script_state,
            create=lambda: create_script(
                name=name, kind=Script.Kind.RESPONSE, description=description, code=code
            ),
            update=lambda script: _ignore(
                update_script(script=script, kind=Script.Kind.RESPONSE, description=description, code=code)
            ),
        ),
        content,
    )
    deployed = ScriptVersion.objects.filter(script=script, status=ScriptVersion.Status.DEPLOYED).first()
    if demos and (deployed is None or deployed.code != code):
        version = deploy_script(script)
        content.changes.append(f"deployed script '{name}' v{version.number}")
    return script


def _flow_state(flow: Flow) -> dict[str, Any]:
    draft = FlowVersion.objects.get(flow=flow, status=FlowVersion.Status.DRAFT)
    return {
        "name": flow.name,
        "description": flow.description,
        "variables": flow.variables,
        "max_run_retries": flow.max_run_retries,
        "graph": draft.graph,
    }


def _keep_flow(name: str, graph: dict[str, Any], settings: dict[str, Any], content: DemoContent) -> Flow:
    def update(flow: Flow) -> None:
        update_flow(flow=flow, **settings)
        save_draft(flow=flow, graph=copy.deepcopy(graph))

    flow, demos = _keep(
        _Spec(
            key=f"flow:{name}",
            label=f"flow '{name}'",
            target={"name": name, **settings, "graph": graph},
            find=lambda pk: _find(Flow, pk, name),
            state=_flow_state,
            create=lambda: create_flow(name=name, graph=copy.deepcopy(graph), **settings),
            update=update,
        ),
        content,
    )
    deployed = FlowVersion.objects.filter(flow=flow, status=FlowVersion.Status.DEPLOYED).first()
    if demos and (deployed is None or deployed.graph != graph):
        try:
            with transaction.atomic():
                version = deploy_flow(flow=flow, comment="Demo content")
        except ApiError as error:
            # A script or endpoint it calls is a user's of the same name (kept), and not deployable as is.
            problems = "; ".join(str(item.get("message")) for item in error.errors)
            content.kept.append(f"flow '{name}' is not deployed: {problems}")
        else:
            content.changes.append(f"deployed flow '{name}' v{version.number}")
    return flow


def _trigger() -> dict[str, Any]:
    return {
        "id": "start",
        "type": "trigger",
        "name": "Start",
        "position": {"x": 0, "y": 80},
        "settings": {"kind": "manual"},
    }


def _connector_shape(shape_id: str, name: str, endpoint: Endpoint, script: Script) -> dict[str, Any]:
    return {
        "id": shape_id,
        "type": "connector",
        "name": name,
        "position": {"x": 280, "y": 80},
        "settings": {
            "connector": endpoint.connector_id,
            "endpoint": endpoint.pk,
            "variables": {"order_number": "[[flow.variables.order_number]]"},
            "retries": 0,
            "response_script": script.pk,
            "response_script_version": None,
        },
    }


def _flow_graph(shape_id: str, name: str, endpoint: Endpoint, script: Script) -> dict[str, Any]:
    return {
        "shapes": [_trigger(), _connector_shape(shape_id, name, endpoint, script)],
        "connections": [{"source": "start", "target": shape_id}],
    }


@transaction.atomic
def load_demo_content(*, base_url: str | None = None) -> DemoContent:
    """Create what is missing of the demo connector, endpoints, scripts and flows, bring up to date what is
    still as the demo left it, deploy what changed; keep everything a user changed. `base_url` is where the
    demo connector reaches the demo API (default: a server on 127.0.0.1:8000)."""
    base_url = base_url or demo_api_url()
    if not base_url.endswith("/"):
        base_url += "/"
    content = DemoContent(connector=Connector(), endpoints={}, scripts={}, flows={})
    connector = content.connector = _keep_connector(base_url, content)
    endpoints = content.endpoints = _keep_endpoints(connector, content)
    session_script = _keep_script(
        SESSION_SCRIPT_NAME,
        SESSION_SCRIPT,
        "Fails the run and queues it again when a 200 answer says 'Invalid session'.",
        content,
    )
    status_script = _keep_script(
        STATUS_SCRIPT_NAME,
        STATUS_SCRIPT,
        "Checks the order number and retries the run while the order has the status `retry_status`.",
        content,
    )
    content.scripts = {SESSION_SCRIPT_NAME: session_script, STATUS_SCRIPT_NAME: status_script}
    session_flow = _keep_flow(
        SESSION_FLOW_NAME,
        _flow_graph("get-order", "Get order (session)", endpoints["Get order (session)"], session_script),
        {
            "description": (
                "Reads an order through an API that answers 200 'Invalid session' until "
                "POST /demo-api/session/refresh is called; the response script retries the run (code 2)."
            ),
            "variables": {"order_number": "1"},
            "max_run_retries": 3,
        },
        content,
    )
    status_flow = _keep_flow(
        STATUS_FLOW_NAME,
        _flow_graph("get-order", "Get order", endpoints["Get order"], status_script),
        {
            "description": (
                "Reads order `order_number` and retries the run while its status is `retry_status` "
                "(order 2 is processing, 3 shipped)."
            ),
            "variables": {"order_number": "3", "retry_status": "processing"},
            "max_run_retries": 2,
        },
        content,
    )
    content.flows = {SESSION_FLOW_NAME: session_flow, STATUS_FLOW_NAME: status_flow}
    return content
