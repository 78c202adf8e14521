"""The custom scripts REST API: CRUD, filters, deploy, versions, test runs, templates and roles."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from scripts_app.models import Script, ScriptVersion
from scripts_app.script_templates import TEMPLATES

TIDY = """import json


def handle(data):
    document = json.loads(data["payload"])
    document["tidy"] = True
    data["payload"] = json.dumps(document)
    data["meta"]["tidied"] = "yes"
    print("tidied", len(document))
    return data
"""


def create(client: APIClient, **fields: Any) -> dict[str, Any]:
    answer = client.post("/api/scripts/", {"name": "Tidy", **fields}, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def test_a_new_script_starts_from_the_template_of_its_kind(editor_client: APIClient) -> None:
    general = create(editor_client, name="General")
    response = create(editor_client, name="Response", kind="response")

    assert general["code"] == TEMPLATES["general"]["code"]
    assert response["code"] == TEMPLATES["response"]["code"]
    assert "def handle(data)" in general["code"]
    assert 'data["response"]' in response["code"] and "response_code" in response["code"]
    assert general["created_by"] == "erin-editor"
    assert general["deployed_version"] is None and general["versions"] == []


def test_both_templates_deploy_and_run(editor_client: APIClient) -> None:
    for kind in ("general", "response"):
        script = create(editor_client, name=f"From {kind}", kind=kind)
        assert editor_client.post(f"/api/scripts/{script['id']}/deploy/").status_code == 201
        answer = editor_client.post(
            f"/api/scripts/{script['id']}/test/",
            {"data": {"payload": '{"a": 1}', "response": {"status": 503, "body": "busy"}}, "version": 1},
            format="json",
        )
        assert answer.json()["ok"] is True, answer.json()
    outcome = answer.json()["result"]
    assert outcome["response_code"] == 1
    assert outcome["message"] == "Server busy (503), retrying"


def test_templates_endpoint_lists_both_kinds(viewer_client: APIClient) -> None:
    answer = viewer_client.get("/api/scripts/templates/")
    assert answer.status_code == 200
    assert {item["kind"] for item in answer.json()} == {"general", "response"}
    assert all("def handle(data)" in item["code"] for item in answer.json())


def test_update_changes_the_draft_but_not_deployed_versions(editor_client: APIClient) -> None:
    script = create(editor_client, code=TIDY)
    editor_client.post(f"/api/scripts/{script['id']}/deploy/")

    answer = editor_client.patch(
        f"/api/scripts/{script['id']}/", {"code": "def handle(data):\n    return data\n"}, format="json"
    )

    assert answer.status_code == 200
    assert answer.json()["code"] == "def handle(data):\n    return data\n"
    version = editor_client.get(f"/api/scripts/{script['id']}/versions/1/").json()
    assert version["code"] == TIDY


def test_list_shows_deployed_version_and_version_numbers_and_filters(editor_client: APIClient) -> None:
    deployed = create(editor_client, name="Deployed", code=TIDY)
    editor_client.post(f"/api/scripts/{deployed['id']}/deploy/")
    editor_client.post(f"/api/scripts/{deployed['id']}/deploy/")
    create(editor_client, name="Draft only")
    response = create(editor_client, name="Checker", kind="response")
    editor_client.post(f"/api/scripts/{response['id']}/deploy/")

    everything = editor_client.get("/api/scripts/").json()["results"]
    by_name = {item["name"]: item for item in everything}
    assert by_name["Deployed"]["deployed_version"] == 2
    assert by_name["Deployed"]["versions"] == [1, 2]
    assert by_name["Draft only"]["deployed_version"] is None

    only_deployed = editor_client.get("/api/scripts/?deployed=true").json()["results"]
    assert sorted(item["name"] for item in only_deployed) == ["Checker", "Deployed"]
    dropdown = editor_client.get("/api/scripts/?deployed=true&kind=response").json()["results"]
    assert [item["name"] for item in dropdown] == ["Checker"]
    assert editor_client.get("/api/scripts/?kind=nonsense").status_code == 400


def test_deploy_numbers_versions_and_keeps_one_deployed(editor_client: APIClient) -> None:
    script = create(editor_client, code=TIDY)

    first = editor_client.post(f"/api/scripts/{script['id']}/deploy/")
    editor_client.patch(f"/api/scripts/{script['id']}/", {"code": TIDY + "\n# second\n"}, format="json")
    second = editor_client.post(f"/api/scripts/{script['id']}/deploy/")

    assert (first.status_code, first.json()) == (201, {"version": 1})
    assert (second.status_code, second.json()) == (201, {"version": 2})
    versions = editor_client.get(f"/api/scripts/{script['id']}/versions/").json()
    assert [(v["number"], v["status"]) for v in versions] == [
        (None, "draft"),
        (2, "deployed"),
        (1, "inactive"),
    ]
    assert versions[2]["deployed_by"] == "erin-editor"


@pytest.mark.parametrize(
    ("code", "line", "column", "fragment"),
    [
        ("def handle(data):\n    return (data\n", 2, 12, "SyntaxError"),
        ("import os\n\ndef handle(data):\n    return data\n", 1, 1, "import of 'os' is not allowed"),
        ("def handle(data):\n    x = 1\n    return data.__class__\n", 3, 12, 'starts with "_"'),
        ("def transform(data):\n    return data\n", 1, 1, "top-level function handle(data)"),
        ("def handle(data, extra):\n    return data\n", 1, 1, "exactly one positional parameter"),
    ],
    ids=["syntax error", "forbidden import", "forbidden attribute", "no handle", "two parameters"],
)
def test_deploy_refuses_bad_code_with_line_and_column(
    editor_client: APIClient, code: str, line: int, column: int, fragment: str
) -> None:
    script = create(editor_client, code=code)

    answer = editor_client.post(f"/api/scripts/{script['id']}/deploy/")

    assert answer.status_code == 400
    body = answer.json()
    assert body["detail"] == "The script has errors."
    error = body["errors"][0]
    assert (error["line"], error["column"]) == (line, column)
    assert fragment in error["message"]
    assert editor_client.get(f"/api/scripts/{script['id']}/").json()["versions"] == []


def test_versions_are_immutable(editor_client: APIClient) -> None:
    script = create(editor_client, code=TIDY)
    editor_client.post(f"/api/scripts/{script['id']}/deploy/")
    version = ScriptVersion.objects.get(script_id=script["id"], number=1)

    version.code = "def handle(data):\n    return {}\n"
    with pytest.raises(Exception, match="immutable"):
        version.save()
    assert ScriptVersion.objects.get(pk=version.pk).code == TIDY
    # There is no route that writes a version.
    assert editor_client.put(f"/api/scripts/{script['id']}/versions/1/", {"code": ""}).status_code == 405


def test_version_detail_has_the_code_and_unknown_versions_are_404(viewer_client: APIClient) -> None:
    script = Script.objects.create(name="Tidy", code=TIDY)
    from scripts_app.services import deploy_script

    deploy_script(script)

    detail = viewer_client.get(f"/api/scripts/{script.pk}/versions/1/")
    assert detail.status_code == 200
    assert detail.json()["code"] == TIDY and detail.json()["status"] == "deployed"
    assert viewer_client.get(f"/api/scripts/{script.pk}/versions/9/").status_code == 404


def test_test_run_of_the_draft_returns_result_logs_and_duration(editor_client: APIClient) -> None:
    script = create(editor_client, code=TIDY)

    answer = editor_client.post(
        f"/api/scripts/{script['id']}/test/", {"data": {"payload": '{"a": 1}'}}, format="json"
    )

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"ok", "result", "logs", "error", "duration_ms"}
    assert body["ok"] is True and body["error"] is None
    assert body["result"]["payload"] == '{"a": 1, "tidy": true}'
    assert body["result"]["meta"] == {"tidied": "yes"}
    assert body["result"]["flow"]["variables"] == {}
    assert body["logs"] == ["tidied 2"]
    assert body["duration_ms"] > 0


def test_test_run_fills_in_defaults_for_missing_data(editor_client: APIClient) -> None:
    code = "def handle(data):\n    data['payload'] = ','.join(sorted(data))\n    return data\n"
    general = create(editor_client, name="General", code=code)
    response = create(editor_client, name="Response", kind="response", code=code)

    general_keys = editor_client.post(f"/api/scripts/{general['id']}/test/", {}, format="json").json()
    response_answer = editor_client.post(f"/api/scripts/{response['id']}/test/", {"data": {}}, format="json")

    assert general_keys["result"]["payload"] == "flow,meta,payload,variables"
    assert response_answer.json()["result"]["payload"] == "flow,meta,payload,response,variables"
    assert response_answer.json()["result"]["response"] == {"status": 200, "headers": {}, "body": ""}


def test_test_run_reports_script_errors_with_line_and_logs(editor_client: APIClient) -> None:
    code = "def handle(data):\n    print('before')\n    total = 1\n    return total / 0\n"
    script = create(editor_client, code=code)

    body = editor_client.post(f"/api/scripts/{script['id']}/test/", {"data": {}}, format="json").json()

    assert body["ok"] is False and body["result"] is None
    assert body["error"] == {"type": "ZeroDivisionError", "message": "division by zero", "line": 4}
    assert body["logs"] == ["before"]


def test_test_run_of_a_pinned_version_runs_that_version(editor_client: APIClient) -> None:
    script = create(editor_client, code="def handle(data):\n    data['payload'] = 'one'\n    return data\n")
    editor_client.post(f"/api/scripts/{script['id']}/deploy/")
    editor_client.patch(
        f"/api/scripts/{script['id']}/",
        {"code": "def handle(data):\n    data['payload'] = 'draft'\n    return data\n"},
        format="json",
    )

    pinned = editor_client.post(f"/api/scripts/{script['id']}/test/", {"version": 1}, format="json").json()
    draft = editor_client.post(f"/api/scripts/{script['id']}/test/", {"version": None}, format="json").json()
    missing = editor_client.post(f"/api/scripts/{script['id']}/test/", {"version": 5}, format="json")

    assert pinned["result"]["payload"] == "one"
    assert draft["result"]["payload"] == "draft"
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Script 'Tidy' has no version 5."
    # A test run is not an invocation: last_invoked_at tells what production uses.
    assert ScriptVersion.objects.get(script_id=script["id"], number=1).last_invoked_at is None


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("def handle(data):\n    return [1]\n", "InvalidResult"),
        ("def handle(data):\n    return {'payload': {1, 2}}\n", "InvalidResult"),
        ("import time\ndef handle(data):\n    time.sleep(5)\n", "TimeoutError"),
        ("def handle(data):\n    return (1\n", "SyntaxError"),
        ("def handle(data):\n    raise BaseException('out')\n", "BaseException"),
    ],
    ids=["not a dict", "not JSON", "timeout", "syntax error", "BaseException"],
)
def test_test_run_never_answers_5xx_for_what_a_script_does(
    editor_client: APIClient, code: str, error_type: str
) -> None:
    script = create(editor_client, code=code)

    answer = editor_client.post(f"/api/scripts/{script['id']}/test/", {"data": {}}, format="json")

    assert answer.status_code == 200
    assert answer.json()["ok"] is False
    assert answer.json()["error"]["type"] == error_type


def test_test_run_refuses_data_that_is_not_an_object(editor_client: APIClient) -> None:
    script = create(editor_client)
    answer = editor_client.post(f"/api/scripts/{script['id']}/test/", {"data": [1, 2]}, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "data"


def test_names_are_unique_and_kinds_are_checked(editor_client: APIClient) -> None:
    create(editor_client)
    duplicate = editor_client.post("/api/scripts/", {"name": "Tidy"}, format="json")
    bad_kind = editor_client.post("/api/scripts/", {"name": "Other", "kind": "shell"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["errors"][0]["field"] == "name"
    assert bad_kind.status_code == 400 and bad_kind.json()["errors"][0]["field"] == "kind"


def test_delete_removes_the_script_and_its_versions(admin_client: APIClient) -> None:
    script = create(admin_client, code=TIDY)
    admin_client.post(f"/api/scripts/{script['id']}/deploy/")

    assert admin_client.delete(f"/api/scripts/{script['id']}/").status_code == 204
    assert not ScriptVersion.objects.filter(script_id=script["id"]).exists()


def test_viewers_read_but_cannot_write_deploy_or_test(
    editor_client: APIClient, viewer_client: APIClient
) -> None:
    script = create(editor_client, code=TIDY)
    url = f"/api/scripts/{script['id']}/"

    assert viewer_client.get("/api/scripts/").status_code == 200
    assert viewer_client.get(url).status_code == 200
    assert viewer_client.get(f"{url}versions/").status_code == 200
    assert viewer_client.post("/api/scripts/", {"name": "Mine"}, format="json").status_code == 403
    assert viewer_client.patch(url, {"code": ""}, format="json").status_code == 403
    assert viewer_client.post(f"{url}deploy/").status_code == 403
    assert viewer_client.post(f"{url}test/", {}, format="json").status_code == 403
    assert viewer_client.delete(url).status_code == 403
    assert Script.objects.get(pk=script["id"]).code == TIDY


def test_outsiders_are_refused_and_anonymous_callers_must_log_in(
    outsider_client: APIClient, anonymous_client: APIClient, admin_client: APIClient
) -> None:
    script = create(admin_client)
    for client, status_code in ((outsider_client, 403), (anonymous_client, 401)):
        assert client.get("/api/scripts/").status_code == status_code
        assert client.post(f"/api/scripts/{script['id']}/test/", {}, format="json").status_code == status_code
        assert client.post(f"/api/scripts/{script['id']}/deploy/").status_code == status_code


def test_text_no_database_can_store_is_refused_or_escaped_not_a_server_error(
    editor_client: APIClient,
) -> None:
    code = "def handle(data):\n    print('half \\ud800 pair')\n    raise ValueError('bad \\udfff')\n"
    script = create(editor_client, code=code)
    echo = create(editor_client, name="Echo", code="def handle(data):\n    return data\n")

    failed = editor_client.post(f"/api/scripts/{script['id']}/test/", {"data": {}}, format="json")
    echoed = editor_client.post(
        f"/api/scripts/{echo['id']}/test/",
        b'{"data": {"payload": "\\ud800"}}',
        content_type="application/json",
    )

    assert failed.status_code == 200
    assert failed.json()["logs"] == ["half \\ud800 pair"]
    assert failed.json()["error"]["message"] == "bad \\udfff"
    # Input with a lone surrogate is refused at the JSON boundary (config/json_input.py), naming the field.
    assert echoed.status_code == 400
    assert [error["field"] for error in echoed.json()["errors"]] == ["data.payload"]


def test_a_null_byte_in_the_code_is_refused(editor_client: APIClient) -> None:
    code = "def handle(data):\n    return data\n\x00\n"
    answer = editor_client.post("/api/scripts/", {"name": "Nul", "code": code}, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "code"
