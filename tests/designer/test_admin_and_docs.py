"""The Django admin pages of the designer, the OpenAPI schema and the offline docs page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from designer import urls as designer_urls
from designer.models import Connector, Flow, FlowVersion
from tests.designer.conftest import SHOP_SECRET, chain, shape


@pytest.fixture
def admin_browser(admin_user) -> Client:
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_lists_and_change_pages_render(admin_browser, orders_flow, shop, get_order) -> None:
    draft = FlowVersion.objects.get(flow=orders_flow)
    pages = [
        "/admin/designer/flow/",
        "/admin/designer/flow/?enabled__exact=1&q=Ord",
        f"/admin/designer/flow/{orders_flow.pk}/change/",
        "/admin/designer/flowversion/",
        f"/admin/designer/flowversion/{draft.pk}/change/",
        "/admin/designer/connector/?auth_type__exact=bearer",
        f"/admin/designer/connector/{shop.pk}/change/",
        "/admin/designer/connector/add/",
        "/admin/designer/endpoint/?q=order",
        f"/admin/designer/endpoint/{get_order.pk}/change/",
    ]
    for page in pages:
        response = admin_browser.get(page)
        assert response.status_code == 200, page
    assert b"Orders" in admin_browser.get("/admin/designer/flow/?q=Ord").content


def test_admin_connector_page_names_secrets_but_never_shows_them(admin_browser, shop) -> None:
    listing = admin_browser.get("/admin/designer/connector/").content.decode()
    change = admin_browser.get(f"/admin/designer/connector/{shop.pk}/change/").content.decode()
    for page in (listing, change):
        assert SHOP_SECRET not in page
        assert shop.secrets_encrypted not in page
    assert '<input type="password" name="token"' in change
    assert "token" in listing


def connector_form(connector: Connector, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": connector.name,
        "description": connector.description,
        "base_url": connector.base_url,
        "auth_type": connector.auth_type,
        "username": connector.username,
        "api_key_name": connector.api_key_name,
        "token_url": connector.token_url,
        "client_id": connector.client_id,
        "scope": connector.scope,
        "default_headers": "{}",
        "timeout": str(connector.timeout),
        "allowed_hosts": "[]",
        "cross_origin_redirects": connector.cross_origin_redirects,
        "endpoints-TOTAL_FORMS": "0",
        "endpoints-INITIAL_FORMS": "0",
        "endpoints-MIN_NUM_FORMS": "0",
        "endpoints-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_admin_keeps_a_secret_left_empty_and_replaces_a_new_one(admin_browser, shop) -> None:
    url = f"/admin/designer/connector/{shop.pk}/change/"
    response = admin_browser.post(url, connector_form(shop, description="kept secret"))
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.description == "kept secret"
    assert shop.get_secrets() == {"token": SHOP_SECRET}

    admin_browser.post(url, connector_form(shop, token="rotated-token"))
    shop.refresh_from_db()
    assert shop.get_secrets() == {"token": "rotated-token"}


def test_admin_refuses_to_clear_a_secret_the_auth_type_needs(admin_browser, shop) -> None:
    url = f"/admin/designer/connector/{shop.pk}/change/"
    response = admin_browser.post(url, connector_form(shop, clear_secrets=["token"]))
    assert response.status_code == 200
    assert "Bearer authentication needs a token." in response.content.decode()
    shop.refresh_from_db()
    assert shop.get_secrets() == {"token": SHOP_SECRET}


def test_admin_creates_a_connector_with_an_encrypted_secret(admin_browser) -> None:
    form = connector_form(
        Connector(
            name="CRM", base_url="https://crm.example.test", auth_type="api_key_header", api_key_name="X-Key"
        ),
        api_key="crm-key-123",
    )
    response = admin_browser.post("/admin/designer/connector/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    crm = Connector.objects.get(name="CRM")
    assert crm.get_secrets() == {"api_key": "crm-key-123"}
    assert "crm-key-123" not in crm.secrets_encrypted


def test_admin_added_flow_gets_a_draft(admin_browser) -> None:
    response = admin_browser.post(
        "/admin/designer/flow/add/",
        {
            "name": "From admin",
            "description": "",
            "enabled": "on",
            "priority": "3",
            "variables": "{}",
            "max_run_retries": "0",
            "max_concurrent_runs": "",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
            "versions-MIN_NUM_FORMS": "0",
            "versions-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    flow = Flow.objects.get(name="From admin")
    assert flow.versions.get().status == "draft"


def test_admin_cannot_delete_what_a_deployed_flow_uses_nor_versions(
    admin_browser, editor_client, orders_flow, shop, get_order
) -> None:
    graph = chain(shape("call", "connector", connector=shop.pk, endpoint=get_order.pk))
    editor_client.put(f"/api/flows/{orders_flow.pk}/draft/", graph, format="json")
    assert editor_client.post(f"/api/flows/{orders_flow.pk}/deploy/", format="json").status_code == 201
    assert admin_browser.get(f"/admin/designer/connector/{shop.pk}/delete/").status_code == 403
    assert admin_browser.get(f"/admin/designer/endpoint/{get_order.pk}/delete/").status_code == 403
    version = FlowVersion.objects.get(flow=orders_flow, status="draft")
    assert admin_browser.get(f"/admin/designer/flowversion/{version.pk}/delete/").status_code == 403
    assert Connector.objects.filter(pk=shop.pk).exists()


def test_admin_shows_deployed_versions_read_only(admin_browser, editor_client, orders_flow) -> None:
    assert editor_client.post(f"/api/flows/{orders_flow.pk}/deploy/", format="json").status_code == 201
    deployed = FlowVersion.objects.get(flow=orders_flow, status="deployed")
    page = admin_browser.get(f"/admin/designer/flowversion/{deployed.pk}/change/").content.decode()
    assert 'name="graph"' not in page
    draft = FlowVersion.objects.get(flow=orders_flow, status="draft")
    page = admin_browser.get(f"/admin/designer/flowversion/{draft.pk}/change/").content.decode()
    assert 'name="graph"' in page
    flow_page = admin_browser.get(f"/admin/designer/flow/{orders_flow.pk}/change/").content.decode()
    # The inline renders the deployed version's graph disabled, the draft's editable.
    graph_inputs = re.findall(r'<textarea[^>]*name="versions-\d-graph"[^>]*>', flow_page)
    assert sorted("disabled" in tag for tag in graph_inputs) == [False, True]


def test_schema_and_docs_pages(viewer_client) -> None:
    schema = viewer_client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/api/flows/{id}/deploy/",
        "/api/flows/{id}/versions/{number}/restore/",
        "/api/flows/import/",
    ):
        assert path in text
    docs = viewer_client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    # Served from the installed sidecar package, not a CDN.
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


def test_designer_api_schema_has_no_warnings() -> None:
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator(patterns=designer_urls.urlpatterns).get_schema(request=None, public=True)
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache)


def test_schema_documents_the_versions_list_as_the_plain_list_it_returns(viewer_client, orders_flow) -> None:
    schema = viewer_client.get("/api/schema/?format=json").json()
    documented = schema["paths"]["/api/flows/{id}/versions/"]["get"]["responses"]["200"]["content"]
    assert documented["application/json"]["schema"]["type"] == "array"
    assert isinstance(viewer_client.get(f"/api/flows/{orders_flow.pk}/versions/").json(), list)


def test_schema_says_deployed_by_may_be_null_as_the_versions_list_answers(viewer_client, orders_flow) -> None:
    versions = viewer_client.get(f"/api/flows/{orders_flow.pk}/versions/").json()
    assert any(version["deployed_by"] is None for version in versions)  # the draft, or an unattended deploy
    components = viewer_client.get("/api/schema/?format=json").json()["components"]["schemas"]
    for name in ("FlowVersion", "FlowVersionDetail"):
        field = components[name]["properties"]["deployed_by"]
        assert field.get("nullable") is True, (name, field)
