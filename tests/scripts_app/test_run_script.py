"""`scripts_app.run_script`, the engine's entry point: results, validation, errors, allowed modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scripts_app import ScriptError, ScriptResult, run_script
from scripts_app.models import ScriptVersion

Make = Callable[..., ScriptVersion]


def data(**extra: Any) -> dict[str, Any]:
    return {
        "payload": '{"id": 7}',
        "variables": {"region": "eu"},
        "meta": {"source": "shop"},
        "flow": {"id": 1, "name": "Orders", "run_id": 9, "variables": {"count": "1"}},
        **extra,
    }


def test_result_carries_the_returned_data_and_its_parts(make_version: Make) -> None:
    version = make_version(
        """
import json

def handle(data):
    order = json.loads(data["payload"])
    print("order", order["id"])
    data["payload"] = json.dumps({"order": order["id"], "region": data["variables"]["region"]})
    data["meta"]["kind"] = "order"
    data["flow"]["variables"]["count"] = "2"
    data["logs"] = ["returned line"]
    return data
""".lstrip()
    )

    result = run_script(version, data())

    assert isinstance(result, ScriptResult)
    assert result.payload == '{"order": 7, "region": "eu"}'
    assert result.meta == {"source": "shop", "kind": "order"}
    assert result.variables == {"region": "eu"}
    assert result.flow_variables == {"count": "2"}
    assert result.response_code is None and result.message is None
    assert result.logs == ["order 7", "returned line"]
    assert result.data["logs"] == ["returned line"]
    assert result.duration_ms > 0 and result.cpu_ms >= 0


def test_response_script_sets_code_and_message(make_version: Make) -> None:
    version = make_version(
        """
def handle(data):
    if data["response"]["status"] == 429:
        data["response_code"] = 1
        data["message"] = "slow down"
    return data
""".lstrip(),
        kind="response",
    )

    result = run_script(version, data(response={"status": 429, "headers": {}, "body": ""}))

    assert (result.response_code, result.message) == (1, "slow down")


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ("[1, 2]", "handle() must return a dict, it returned list"),
        ("None", "handle() must return a dict, it returned NoneType"),
        ("{'payload': 5}", "'payload' must be a string or None, not int"),
        ("{'meta': {'a': 1}}", "meta['a'] must be a string, not int"),
        ("{'meta': 'x'}", "'meta' must be a dict, not str"),
        ("{'meta': {'big': 'x' * 11000}}", "more than the limit of 10240"),
        ("{'response_code': 7}", "'response_code' must be an integer from 0 to 4, not 7"),
        ("{'response_code': True}", "'response_code' must be an integer from 0 to 4, not True"),
        ("{'response_code': '1'}", "'response_code' must be an integer from 0 to 4"),
        ("{'message': ['x']}", "'message' must be a string, not list"),
        ("{'logs': 'one line'}", "'logs' must be a list of strings"),
        ("{'logs': [1]}", "'logs' must be a list of strings"),
        ("{'variables': []}", "'variables' must be a dict, not list"),
        ("{'flow': {'variables': 3}}", "'flow.variables' must be a dict, not int"),
        ("{'payload': {1, 2}}", "cannot be encoded as JSON"),
        ("{'payload': float('nan')}", "cannot be encoded as JSON"),
    ],
)
def test_invalid_results_raise_a_script_error_naming_the_problem(
    make_version: Make, returned: str, fragment: str
) -> None:
    version = make_version(f"def handle(data):\n    return {returned}\n", name="Tidy")

    with pytest.raises(ScriptError) as failed:
        run_script(version, data())

    assert failed.value.error_type == "InvalidResult"
    assert fragment in failed.value.message
    assert str(failed.value).startswith("Script 'Tidy' v1: InvalidResult: ")


def test_script_error_names_script_version_and_line(make_version: Make) -> None:
    code = "def handle(data):\n    print('starting')\n    ratio = 1\n    return ratio / 0\n"
    make_version(code, name="Tidy")
    # Deploy twice more so the version number is not 1.
    version = ScriptVersion.objects.get(script__name="Tidy")
    from scripts_app.services import deploy_script

    deploy_script(version.script)
    third = deploy_script(version.script)

    with pytest.raises(ScriptError) as failed:
        run_script(third, data())

    error = failed.value
    assert str(error) == "Script 'Tidy' v3, line 4: ZeroDivisionError: division by zero"
    assert (error.script_name, error.version, error.line) == ("Tidy", 3, 4)
    assert (error.error_type, error.message) == ("ZeroDivisionError", "division by zero")
    assert error.logs == ["starting"]


def test_an_error_inside_a_helper_reports_the_helper_line(make_version: Make) -> None:
    version = make_version(
        "def helper(items):\n    return items['missing']\n\ndef handle(data):\n    return helper({})\n"
    )
    with pytest.raises(ScriptError) as failed:
        run_script(version, data())
    assert (failed.value.error_type, failed.value.line) == ("KeyError", 2)


def test_inactive_versions_still_run_when_pinned(make_version: Make) -> None:
    first = make_version("def handle(data):\n    data['payload'] = 'first'\n    return data\n", name="Tidy")
    script = first.script
    script.code = "def handle(data):\n    data['payload'] = 'second'\n    return data\n"
    script.save()
    from scripts_app.services import deploy_script

    deploy_script(script)
    first.refresh_from_db()

    assert first.status == ScriptVersion.Status.INACTIVE
    assert run_script(first, data()).payload == "first"


def test_last_invoked_at_is_set_on_the_first_call(make_version: Make) -> None:
    version = make_version("def handle(data):\n    return data\n")
    assert version.last_invoked_at is None

    run_script(version, data())
    noted = ScriptVersion.objects.get(pk=version.pk).last_invoked_at
    run_script(version, data())

    assert noted is not None
    # Within the minute a second call does not write again.
    assert ScriptVersion.objects.get(pk=version.pk).last_invoked_at == noted


def test_a_timeout_argument_overrides_the_setting(make_version: Make) -> None:
    version = make_version("import time\n\ndef handle(data):\n    time.sleep(1.5)\n    return data\n")
    with pytest.raises(ScriptError) as failed:
        run_script(version, data(), timeout=0.5)
    assert failed.value.error_type == "TimeoutError"
    assert "longer than 0.5 s" in failed.value.message


def test_data_that_cannot_be_sent_is_a_script_error(make_version: Make) -> None:
    version = make_version("def handle(data):\n    return data\n")
    with pytest.raises(ScriptError) as failed:
        run_script(version, data(payload=object()))
    assert failed.value.error_type == "InvalidInput"


ALLOWED_MODULES_SCRIPT = """
import base64
import collections
import csv
import datetime
import decimal
import functools
import hashlib
import hmac
import itertools
import json
import math
import random
import re
import string
import time
import uuid
import urllib.parse
import xml.etree.ElementTree as ET
from collections import Counter
from urllib.parse import quote


class Lines:
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)


def handle(data):
    out = {}
    out["json"] = json.dumps(json.loads('{"a": [1, 2]}'))
    out["re"] = re.sub(r"[0-9]+", "#", "a1b22")
    out["math"] = str(math.floor(math.pi * 100))
    out["datetime"] = (datetime.date(2024, 1, 31) + datetime.timedelta(days=1)).isoformat()
    out["time"] = str(time.time() > 0)
    out["decimal"] = str(decimal.Decimal("1.10") + decimal.Decimal("2.20"))
    out["hashlib"] = hashlib.sha256(b"abc").hexdigest()[:8]
    out["hmac"] = hmac.new(b"key", b"msg", "sha256").hexdigest()[:8]
    out["base64"] = base64.b64encode(b"hi").decode()
    out["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, "example.org"))[:8]
    out["random"] = str(0 <= random.random() < 1)
    out["itertools"] = ",".join(str(x) for x in itertools.islice(itertools.count(1), 3))
    out["functools"] = str(functools.reduce(lambda a, b: a * b, [1, 2, 3, 4]))
    counts = Counter("abca")
    counts["a"] += 1
    out["collections"] = str(counts["a"]) + str(collections.OrderedDict(x=1))
    out["string"] = string.Template("$who!").substitute(who="hi") + string.ascii_lowercase[:3]
    out["urllib"] = urllib.parse.urlencode({"q": "a b"}) + "&" + quote("c/d")
    rows = list(csv.reader("a,b\\n1,2".splitlines()))
    buffer = Lines()
    csv.writer(buffer).writerow(["x", "y z"])
    out["csv"] = str(rows) + "".join(buffer.parts).strip()
    root = ET.fromstring("<order><id>7</id></order>")
    item = ET.SubElement(root, "state")
    item.text = "new"
    out["xml"] = root.find("id").text + ET.tostring(root).decode()
    out["format"] = "{} {name:>4}".format(1, name="x") + "{n}".format_map({"n": 2}) + f"{3:03d}"
    totals = {"n": 1}
    totals["n"] *= 5
    out["augmented"] = str(totals["n"])
    data["meta"] = out
    return data
"""


def test_every_allowed_module_works(make_version: Make) -> None:
    version = make_version(ALLOWED_MODULES_SCRIPT.lstrip())

    meta = run_script(version, data()).meta

    assert meta == {
        "json": '{"a": [1, 2]}',
        "re": "a#b#",
        "math": "314",
        "datetime": "2024-02-01",
        "time": "True",
        "decimal": "3.30",
        "hashlib": "ba7816bf",
        "hmac": "2d93cbc1",
        "base64": "aGk=",
        "uuid": "aad03681",
        "random": "True",
        "itertools": "1,2,3",
        "functools": "24",
        "collections": "3OrderedDict([('x', 1)])",
        "string": "hi!abc",
        "urllib": "q=a+b&c/d",
        "csv": "[['a', 'b'], ['1', '2']]x,y z",
        "xml": "7<order><id>7</id><state>new</state></order>",
        "format": "1    x2003",
        "augmented": "5",
    }


def test_calls_do_not_share_state(make_version: Make) -> None:
    """Module globals are fresh per call and the decimal context is reset, even in the same worker."""
    version = make_version(
        """
import decimal

seen = []

def handle(data):
    seen.append(1)
    context = decimal.getcontext()
    data["payload"] = str(len(seen)) + "/" + str(context.traps[decimal.DivisionByZero])
    context.clear_traps()
    return data
""".lstrip()
    )

    answers = {run_script(version, data()).payload for _ in range(6)}

    assert answers == {"1/True"}


def test_the_memory_limit_counts_the_scripts_own_data(make_version: Make) -> None:
    """PATCHBAY_SCRIPT_MEMORY_MB is 64 here: the interpreter's own size is not part of the budget."""
    code = (
        "def handle(data):\n    big = 'x' * ({mb} * 1024 * 1024)\n"
        "    data['payload'] = str(len(big))\n    return data\n"
    )
    within = make_version(code.format(mb=40), name="Within")
    beyond = make_version(code.format(mb=80), name="Beyond")

    assert run_script(within, data()).payload == str(40 * 1024 * 1024)
    with pytest.raises(ScriptError) as failed:
        run_script(beyond, data())
    assert failed.value.error_type == "MemoryError"
    assert (
        str(failed.value)
        == "Script 'Beyond' v1, line 2: MemoryError: the script needed more than 64 MiB of memory"
    )


def test_each_version_runs_its_own_code_in_workers_that_cached_another(make_version: Make) -> None:
    first = make_version("def handle(data):\n    data['payload'] = 'v1'\n    return data\n", name="Tidy")
    for _ in range(4):  # both workers compile and cache v1
        assert run_script(first, data()).payload == "v1"
    script = first.script
    script.code = "def handle(data):\n    data['payload'] = 'v2'\n    return data\n"
    script.save()
    from scripts_app.services import deploy_script

    second = deploy_script(script)

    assert [run_script(second, data()).payload for _ in range(4)] == ["v2"] * 4
    assert [run_script(first, data()).payload for _ in range(4)] == ["v1"] * 4
