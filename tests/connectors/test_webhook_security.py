"""Webhooks: the URL only for roles that may run the flow, key rotation, HMAC signatures, no caller
credentials in stored meta."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from django.test import Client

from designer.models import Flow
from runs.models import Run
from tests.connectors.conftest import CANARY, stored_text
from tests.runs.test_webhooks import webhook_flow

pytestmark = pytest.mark.django_db(transaction=True)

BODY = b'{"order_id": 5}'


def sign(secret: str, body: bytes, algorithm=hashlib.sha256) -> str:
    return hmac.new(secret.encode(), body, algorithm).hexdigest()


def post(flow: Flow, body: bytes = BODY, **headers: str):
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return Client().post(flow.webhook_path, data=body, content_type="application/json", **extra)


def test_viewers_do_not_see_the_webhook_url(viewer_client, editor_client) -> None:
    flow = webhook_flow()
    for path in ("/api/flows/", f"/api/flows/{flow.pk}/"):
        seen_by_viewer = viewer_client.get(path)
        assert seen_by_viewer.status_code == 200
        assert flow.webhook_key not in seen_by_viewer.content.decode()
    assert viewer_client.get(f"/api/flows/{flow.pk}/").json()["webhook_url"] is None
    assert viewer_client.get(f"/api/flows/{flow.pk}/webhook/").status_code == 403
    assert viewer_client.post(f"/api/flows/{flow.pk}/webhook/rotate/").status_code == 403
    assert editor_client.get(f"/api/flows/{flow.pk}/").json()["webhook_url"].endswith(flow.webhook_path)
    assert editor_client.get(f"/api/flows/{flow.pk}/webhook/").json()["url"].endswith(flow.webhook_path)


def test_rotating_the_key_stops_the_old_url(editor_client) -> None:
    flow = webhook_flow()
    old_path = flow.webhook_path

    answer = editor_client.post(f"/api/flows/{flow.pk}/webhook/rotate/")

    assert answer.status_code == 200
    flow.refresh_from_db()
    assert flow.webhook_path != old_path
    assert answer.json()["url"].endswith(flow.webhook_path)
    assert Client().post(old_path, data=BODY, content_type="application/json").status_code == 404
    assert post(flow).status_code == 200


def configure(editor_client, flow: Flow, **fields):
    return editor_client.patch(f"/api/flows/{flow.pk}/webhook/", fields, format="json")


def test_a_signed_flow_refuses_unsigned_and_badly_signed_calls(editor_client) -> None:
    flow = webhook_flow()
    answer = configure(editor_client, flow, signature_header="X-Signature", secret=f" {CANARY}\n")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["secret_set"] is True
    assert CANARY not in answer.content.decode()
    assert CANARY not in editor_client.get(f"/api/flows/{flow.pk}/webhook/").content.decode()

    missing = post(flow)
    wrong = post(flow, X_Signature=sign("not-the-secret", BODY))
    tampered = post(flow, b'{"order_id": 6}', X_Signature=sign(CANARY, BODY))
    right = post(flow, X_Signature=sign(CANARY, BODY).upper())

    assert missing.status_code == 401 and "X-Signature is missing" in missing.json()["detail"]
    assert wrong.status_code == 401 and "does not match" in wrong.json()["detail"]
    assert tampered.status_code == 401
    assert right.status_code == 200
    assert Run.objects.count() == 1


def test_sha1_base64_signatures_with_a_prefix(editor_client) -> None:
    flow = webhook_flow()
    configure(
        editor_client,
        flow,
        signature_header="X-Hub-Signature",
        signature_algorithm="sha1",
        signature_encoding="base64",
        signature_prefix="sha1=",
        secret=CANARY,
    )
    digest = base64.b64encode(hmac.new(CANARY.encode(), BODY, hashlib.sha1).digest()).decode()
    assert post(flow, X_Hub_Signature=digest).status_code == 401
    assert post(flow, X_Hub_Signature=f"sha1={digest}").status_code == 200


def test_a_signature_check_needs_a_secret_and_refuses_control_characters(editor_client) -> None:
    flow = webhook_flow()
    assert configure(editor_client, flow, signature_header="X-Signature").status_code == 400
    bad = configure(editor_client, flow, signature_header="X-Signature", secret="ab\ncd")
    assert bad.status_code == 400 and "secret" in str(bad.json())
    assert configure(editor_client, flow, signature_header="X Sig", secret="abcdef").status_code == 400
    assert configure(editor_client, flow, signature_header="X-Sig", secret="abcdef").status_code == 200
    assert configure(editor_client, flow, signature_header="").status_code == 200
    assert post(flow).status_code == 200


def test_callers_credential_headers_are_not_stored(editor_client, viewer_client) -> None:
    flow = webhook_flow()
    configure(editor_client, flow, signature_header="X-Shop-Hmac-Sha256", secret="shared-secret-1")
    signature = sign("shared-secret-1", BODY)

    answer = post(
        flow,
        Authorization=f"Bearer {CANARY}-a",
        Cookie=f"session={CANARY}-b",
        X_Auth_Token=f"{CANARY}-c",
        Api_Key=f"{CANARY}-d",
        X_Api_Key=f"{CANARY}-e",
        X_Shop_Secret=f"{CANARY}-f",
        X_Shop_Hmac_Sha256=signature,
        X_Order_Source="shop-7",
    )

    assert answer.status_code == 200
    run = Run.objects.get()
    assert run.input_meta["header_x_order_source"] == "shop-7"
    stored = stored_text()
    assert CANARY not in stored and signature not in stored
    assert CANARY not in viewer_client.get(f"/api/runs/{run.pk}/").content.decode()
