"""The Django admin: scripts with their versions inline; versions are read-only."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from scripts_app.models import Script, ScriptVersion
from scripts_app.services import create_script, deploy_script


def admin_browser() -> Client:
    user = User.objects.create_superuser("root", "root@example.org", "root-password-1")
    client = Client()
    client.force_login(user)
    return client


def test_script_page_shows_versions_inline_and_keeps_them_read_only(db: None) -> None:
    browser = admin_browser()
    script = create_script(name="Tidy", code="def handle(data):\n    return data\n")
    deploy_script(script)
    version = ScriptVersion.objects.get(script=script)

    listing = browser.get("/admin/scripts_app/script/")
    page = browser.get(f"/admin/scripts_app/script/{script.pk}/change/")
    version_page = browser.get(f"/admin/scripts_app/scriptversion/{version.pk}/change/")
    posted = browser.post(f"/admin/scripts_app/scriptversion/{version.pk}/change/", {"code": "x = 1"})

    assert listing.status_code == 200 and b"Tidy" in listing.content and b"v1" in listing.content
    assert page.status_code == 200
    assert b'<textarea name="code"' in page.content  # the draft is editable
    assert b"versions-0-number" not in page.content  # inline versions have no inputs
    assert b"deployed" in page.content
    assert version_page.status_code == 200
    assert b'name="code"' not in version_page.content
    assert posted.status_code in {302, 403}
    assert ScriptVersion.objects.get(pk=version.pk).code == "def handle(data):\n    return data\n"
    assert browser.get("/admin/scripts_app/scriptversion/add/").status_code == 403
    assert Script.objects.count() == 1
