"""Demo content for a fresh Patchbay: a connector to the demo shop API (runs/demo/api.py), its endpoints,
two response scripts and two deployed flows that use them. `load_demo_content` is idempotent: it creates
what is missing, brings changed things up to date, and deploys a script or flow only when its deployed
version differs from the demo's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from designer.models import Connector, Endpoint, Flow, FlowVersion
from designer.services import (
    create_connector,
    create_flow,
    deploy_flow,
    save_draft,
    update_connector,
    update_flow,
)
from scripts_app.models import Script, ScriptVersion
from scripts_app.services import create_script, deploy_script, update_script

DEFAULT_BASE_URL = "http://127.0.0.1:8000/demo-api/"
CONNECTOR_NAME = "Demo shop API"
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


@dataclass
class DemoContent:
    connector: Connector
    endpoints: dict[str, Endpoint]
    scripts: dict[str, Script]
    flows: dict[str, Flow]
    changes: list[str] = field(default_factory=list)


def _ensure_connector(base_url: str, changes: list[str]) -> Connector:
    connector = Connector.objects.filter(name=CONNECTOR_NAME).first()
    if connector is None:
        changes.append(f"created connector '{CONNECTOR_NAME}'")
        return create_connector(
            name=CONNECTOR_NAME,
            description="The demo shop API that Patchbay serves itself under /demo-api/.",
            base_url=base_url,
            auth_type=Connector.AuthType.NONE,
            timeout=10.0,
        )
    if connector.base_url != base_url:
        changes.append(f"connector '{CONNECTOR_NAME}' now calls {base_url}")
        update_connector(connector=connector, base_url=base_url)
    return connector


ENDPOINTS = {
    "List orders": ("GET", "orders/"),
    "Get order": ("GET", "orders/[[variables.order_number]]"),
    "Get order (session)": ("GET", "session/orders/[[variables.order_number]]"),
    "Refresh session": ("POST", "session/refresh"),
}


def _ensure_endpoints(connector: Connector, changes: list[str]) -> dict[str, Endpoint]:
    endpoints = {}
    for name, (method, path) in ENDPOINTS.items():
        endpoint, created = Endpoint.objects.get_or_create(
            connector=connector, name=name, defaults={"method": method, "path": path}
        )
        if created:
            changes.append(f"created endpoint '{name}'")
        elif (endpoint.method, endpoint.path) != (method, path):
            endpoint.method, endpoint.path = method, path
            endpoint.save(update_fields=["method", "path", "updated_at"])
            changes.append(f"updated endpoint '{name}'")
        endpoints[name] = endpoint
    return endpoints


def _ensure_script(name: str, code: str, description: str, changes: list[str]) -> Script:
    script = Script.objects.filter(name=name).first()
    if script is None:
        script = create_script(name=name, kind=Script.Kind.RESPONSE, description=description, code=code)
        changes.append(f"created script '{name}'")
    elif script.code != code:
        update_script(script=script, code=code)
    deployed = ScriptVersion.objects.filter(script=script, status=ScriptVersion.Status.DEPLOYED).first()
    if deployed is None or deployed.code != code:
        version = deploy_script(script)
        changes.append(f"deployed script '{name}' v{version.number}")
    return script


def _ensure_flow(name: str, graph: dict[str, Any], settings: dict[str, Any], changes: list[str]) -> Flow:
    flow = Flow.objects.filter(name=name).first()
    if flow is None:
        flow = create_flow(name=name, graph=copy.deepcopy(graph), **settings)
        changes.append(f"created flow '{name}'")
    else:
        if any(getattr(flow, key) != value for key, value in settings.items()):
            update_flow(flow=flow, **settings)
        draft = FlowVersion.objects.get(flow=flow, status=FlowVersion.Status.DRAFT)
        if draft.graph != graph:
            save_draft(flow=flow, graph=copy.deepcopy(graph))
    deployed = FlowVersion.objects.filter(flow=flow, status=FlowVersion.Status.DEPLOYED).first()
    if deployed is None or deployed.graph != graph:
        version = deploy_flow(flow=flow, comment="Demo content")
        changes.append(f"deployed flow '{name}' v{version.number}")
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
def load_demo_content(*, base_url: str = DEFAULT_BASE_URL) -> DemoContent:
    """Create or update the demo connector, endpoints, scripts and flows; deploy what changed."""
    if not base_url.endswith("/"):
        base_url += "/"
    changes: list[str] = []
    connector = _ensure_connector(base_url, changes)
    endpoints = _ensure_endpoints(connector, changes)
    session_script = _ensure_script(
        SESSION_SCRIPT_NAME,
        SESSION_SCRIPT,
        "Fails the run and queues it again when a 200 answer says 'Invalid session'.",
        changes,
    )
    status_script = _ensure_script(
        STATUS_SCRIPT_NAME,
        STATUS_SCRIPT,
        "Checks the order number and retries the run while the order has the status `retry_status`.",
        changes,
    )
    session_flow = _ensure_flow(
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
        changes,
    )
    status_flow = _ensure_flow(
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
        changes,
    )
    return DemoContent(
        connector=connector,
        endpoints=endpoints,
        scripts={SESSION_SCRIPT_NAME: session_script, STATUS_SCRIPT_NAME: status_script},
        flows={SESSION_FLOW_NAME: session_flow, STATUS_FLOW_NAME: status_flow},
        changes=changes,
    )
