"""Designer fixtures: connectors with endpoints, scripts with and without deployed versions, graphs."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from designer.models import Connector, Endpoint
from designer.services import create_connector, create_flow
from scripts_app.models import Script, ScriptVersion
from tests.conftest import endpoint_as_the_api_creates_it

SHOP_SECRET = "shop-token-s3cr3t-value"


@pytest.fixture
def shop(db) -> Connector:
    return create_connector(
        name="Shop API",
        base_url="https://shop.example.test/api",
        auth_type=Connector.AuthType.BEARER,
        secrets={"token": SHOP_SECRET},
    )


@pytest.fixture
def erp(db) -> Connector:
    return create_connector(name="ERP", base_url="https://erp.example.test")


@pytest.fixture
def get_order(shop: Connector) -> Endpoint:
    return endpoint_as_the_api_creates_it(shop, name="Get order", path="/orders/[[variables.order_id]]")


@pytest.fixture
def erp_post(erp: Connector) -> Endpoint:
    return endpoint_as_the_api_creates_it(erp, name="Post order", method="POST", path="/orders")


@pytest.fixture
def tidy_script(db) -> Script:
    script = Script.objects.create(name="Tidy", code="def handle(data):\n    return data\n")
    ScriptVersion.objects.create(
        script=script, number=1, code=script.code, status=ScriptVersion.Status.DEPLOYED
    )
    return script


@pytest.fixture
def undeployed_script(db) -> Script:
    return Script.objects.create(name="Unfinished", code="def handle(data):\n    return data\n")


@pytest.fixture
def orders_flow(db):
    return create_flow(name="Orders")


def trigger(kind: str = "manual", **settings: Any) -> dict[str, Any]:
    return shape("trigger", "trigger", kind=kind, **settings)


def shape(shape_id: str, shape_type: str, **settings: Any) -> dict[str, Any]:
    return {
        "id": shape_id,
        "type": shape_type,
        "name": shape_id.title(),
        "position": {"x": 0, "y": 0},
        "settings": settings,
    }


def link(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"source": source, "target": target, **extra}


def chain(*shapes: dict[str, Any]) -> dict[str, Any]:
    """A graph whose shapes are connected one after the other, starting with a manual trigger."""
    all_shapes = [trigger(), *shapes]
    return {
        "shapes": all_shapes,
        "connections": [link(a["id"], b["id"]) for a, b in itertools.pairwise(all_shapes)],
    }
