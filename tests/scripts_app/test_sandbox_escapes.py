"""Hostile scripts: each must fail clearly, at deploy or when it runs, and leave the pool healthy.

Limits here are small (tests/scripts_app/conftest.py: 2 s wall time, 1 s CPU, 64 MiB, 64 KiB of logs,
1 MiB of result). What was tried:

Imports: os, sys, subprocess, importlib, builtins, ctypes, pickle, socket, `from os import system`, the
json.decoder submodule, relative imports, operator (for attrgetter), `__import__`.
Dunder walking: `__builtins__`, `__class__`, `__mro__`, `__subclasses__`, `__globals__` (of a script function
and of an allowed module's function), `__code__`, `__dict__`, `__self__` of bound methods, name-mangled
private methods, private module attributes (`random._inst`).
Frames and tracebacks: gi_frame, f_back, f_globals, tb_frame, cr_frame, async def, `except*`.
Formatting: str.format with attribute and index fields, format_map, str.format called on the class, nested
fields in a format spec, f-strings, string.Formatter, collections.UserString.format.
Builtins: getattr, setattr, vars, dir, type with three arguments, exec, eval, compile, open, input,
breakpoint, help, globals.
Files through allowed modules: json.load, ElementTree.parse / iterparse / ElementTree(file=...), an XML
external entity, hashlib.file_digest, uuid.getnode / uuid1, the json.codecs / json.decoder attributes,
urllib.request through the urllib package, csv.field_size_limit.
Shared state: assigning to a module attribute and to a builtin type's attribute.
Resources: an infinite loop, catching the CPU limit and carrying on, deep recursion, a big string and a big
list (memory), huge print output (also when the limit error is swallowed), a very large return value, sleeping
past the timeout.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from scripts_app import ScriptError, run_script
from scripts_app.models import ScriptVersion
from scripts_app.services import ScriptDeployError, create_script, deploy_script
from tests.scripts_app.conftest import TRIVIAL_CODE, assert_pool_healthy

NOT_ALLOWED = "is not allowed in scripts"
UNDERSCORE = 'starts with "_"'
RESTRICTED = "is a restricted name"
UNAVAILABLE = "is not available in scripts"
FORMAT_FIELDS = "format fields cannot use"
NO_ATTRIBUTE = "available in scripts"
CANNOT_CHANGE = "cannot be changed in scripts"


def body(code: str) -> str:
    """A handle(data) wrapping the hostile lines."""
    return (
        "def handle(data):\n"
        + textwrap.indent(textwrap.dedent(code).strip("\n"), "    ")
        + "\n    return data\n"
    )


# (id, code, fragment) of scripts that deploy must refuse: the fragment is in one of the error messages.
REFUSED_AT_DEPLOY = [
    ("import os", "import os\n" + body("os.system('id')"), NOT_ALLOWED),
    ("import sys", "import sys\n" + body("sys.modules"), NOT_ALLOWED),
    ("import subprocess", body("import subprocess\nsubprocess.run(['id'])"), NOT_ALLOWED),
    ("import importlib", body("import importlib\nimportlib.import_module('os')"), NOT_ALLOWED),
    ("import builtins", body("import builtins\nbuiltins.open('/etc/passwd')"), NOT_ALLOWED),
    ("import ctypes", body("import ctypes"), NOT_ALLOWED),
    ("import pickle", body("import pickle\npickle.loads(b'')"), NOT_ALLOWED),
    ("import socket", body("import socket\nsocket.create_connection(('localhost', 22))"), NOT_ALLOWED),
    ("from os import system", "from os import system\n" + body("system('id')"), NOT_ALLOWED),
    ("json.decoder submodule", "import json.decoder\n" + body("json.decoder"), NOT_ALLOWED),
    ("relative import", "from . import models\n" + body("models"), "Relative imports"),
    ("operator.attrgetter", body("import operator\noperator.attrgetter('__class__')(data)"), NOT_ALLOWED),
    ("__import__", body("__import__('os').system('id')"), UNDERSCORE),
    ("__builtins__", body("__builtins__['open']('/etc/passwd')"), UNDERSCORE),
    ("__class__", body("data.__class__"), UNDERSCORE),
    ("__mro__", body("().__class__.__mro__[1]"), UNDERSCORE),
    ("__subclasses__", body("object.__subclasses__()"), UNDERSCORE),
    ("__globals__ of a script function", body("handle.__globals__"), UNDERSCORE),
    ("__globals__ of json.dumps", "import json\n" + body("json.dumps.__globals__['codecs']"), UNDERSCORE),
    ("__code__", body("handle.__code__.co_consts"), UNDERSCORE),
    ("__dict__", body("data.__dict__"), UNDERSCORE),
    ("__self__ of a bound method", body("[].append.__self__"), UNDERSCORE),
    ("private method", "class Box:\n    def __secret(self):\n        return 1\n" + body("Box()"), UNDERSCORE),
    ("random._inst", "import random\n" + body("random._inst"), UNDERSCORE),
    ("gi_frame", body("gen = (x for x in [1])\nframe = gen.gi_frame"), RESTRICTED),
    ("f_back", body("gen = (x for x in [1])\ngen.gi_frame.f_back"), RESTRICTED),
    ("f_globals", body("frame = None\nframe.f_globals['os']"), RESTRICTED),
    ("tb_frame", body("try:\n    1 / 0\nexcept ZeroDivisionError as error:\n    error.tb_frame"), RESTRICTED),
    ("cr_frame", body("coroutine = None\ncoroutine.cr_frame"), RESTRICTED),
    ("async def", "async def helper():\n    return 1\n" + body("helper()"), "not allowed"),
    ("except*", body("try:\n    pass\nexcept* ValueError:\n    pass"), "not allowed"),
    ("f-string attribute", body("data['payload'] = f'{data.__class__.__mro__}'"), UNDERSCORE),
    ("getattr", body("getattr(data, '__class__')"), '"getattr" is not available'),
    ("setattr", body("setattr(data, 'x', 1)"), '"setattr" is not available'),
    ("vars", body("vars(data)"), '"vars" is not available'),
    ("dir", body("dir(data)"), '"dir" is not available'),
    ("type with three arguments", body("type('Escape', (), {})"), '"type" is not available'),
    ("exec", body("exec('import os')"), "Exec calls are not allowed"),
    ("eval", body("eval('1 + 1')"), "Eval calls are not allowed"),
    ("compile", body("compile('1', 'x', 'eval')"), '"compile" is not available'),
    ("open", body("open('/etc/passwd').read()"), '"open" is not available'),
    ("input", body("input()"), '"input" is not available'),
    ("breakpoint", body("breakpoint()"), "breakpoint"),
    ("help", body("help(data)"), '"help" is not available'),
    ("globals", body("globals()['__builtins__']"), '"globals" is not available'),
    ("string.Formatter import", "from string import Formatter\n" + body("Formatter()"), UNAVAILABLE),
]

# (id, code, error types, fragment or None) of scripts that deploy but fail when they run.
FAIL_AT_RUN = [
    (
        "str.format attribute field",
        body("data['payload'] = '{0.__class__}'.format(data)"),
        {"ValueError"},
        FORMAT_FIELDS,
    ),
    (
        "str.format index field",
        body("data['payload'] = '{0[payload]}'.format(data)"),
        {"ValueError"},
        FORMAT_FIELDS,
    ),
    (
        "format_map attribute field",
        body("data['payload'] = '{x.__class__.__mro__}'.format_map({'x': data})"),
        {"ValueError"},
        FORMAT_FIELDS,
    ),
    ("str.format on the class", body("str.format('{0.__globals__}', handle)"), {"ValueError"}, FORMAT_FIELDS),
    ("format spec field", body("'{0:{1.__class__}}'.format(1, data)"), {"ValueError"}, FORMAT_FIELDS),
    (
        "string.Formatter attribute",
        "import string\n" + body("string.Formatter()"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    (
        "collections.UserString",
        "import collections\n" + body("collections.UserString('{0.__class__}').format(data)"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    ("json.load", "import json\n" + body("json.load(data)"), {"AttributeError"}, NO_ATTRIBUTE),
    (
        "json.codecs",
        "import json\n" + body("json.codecs.open('/etc/passwd')"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    ("json.decoder attribute", "import json\n" + body("json.decoder"), {"AttributeError"}, NO_ATTRIBUTE),
    (
        "ElementTree.parse",
        "import xml.etree.ElementTree as ET\n" + body("ET.parse('/etc/passwd')"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    (
        "ElementTree.iterparse",
        "import xml.etree.ElementTree as ET\n" + body("ET.iterparse('/etc/passwd')"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    (
        "ElementTree class with a file",
        "import xml.etree.ElementTree as ET\n" + body("ET.ElementTree(file='/etc/passwd')"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    (
        "XML external entity",
        "import xml.etree.ElementTree as ET\n"
        + body(
            """
            doc = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
            data['payload'] = ET.fromstring(doc).text
            """
        ),
        {"ParseError"},
        "undefined entity",
    ),
    (
        "hashlib.file_digest",
        "import hashlib\n" + body("hashlib.file_digest(None, 'sha256')"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    ("uuid.getnode", "import uuid\n" + body("uuid.getnode()"), {"AttributeError"}, NO_ATTRIBUTE),
    ("uuid.uuid1", "import uuid\n" + body("uuid.uuid1()"), {"AttributeError"}, NO_ATTRIBUTE),
    (
        "urllib.request",
        "import urllib.parse\n" + body("urllib.request.urlopen('http://localhost')"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    (
        "csv.field_size_limit",
        "import csv\n" + body("csv.field_size_limit(1)"),
        {"AttributeError"},
        NO_ATTRIBUTE,
    ),
    ("assign to a module", "import json\n" + body("json.dumps = None"), {"TypeError"}, CANNOT_CHANGE),
    ("assign to a builtin type", body("str.upper = None"), {"TypeError"}, CANNOT_CHANGE),
    ("infinite loop", body("while True:\n    pass"), {"CpuLimitExceeded", "TimeoutError"}, None),
    (
        "catching the CPU limit",
        body(
            """
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
            """
        ),
        {"CpuLimitExceeded", "TimeoutError"},
        None,
    ),
    (
        "deep recursion",
        "def dive(n):\n    return dive(n + 1)\n" + body("dive(0)"),
        {"RecursionError"},
        "recursion",
    ),
    ("big string", body("data['payload'] = 'x' * (512 * 1024 * 1024)"), {"MemoryError"}, "MiB of memory"),
    ("big list", body("data['items'] = [0] * (256 * 1024 * 1024)"), {"MemoryError"}, "MiB of memory"),
    ("huge print", body("while True:\n    print('x' * 1000)"), {"LogLimitExceeded"}, "log output exceeds"),
    (
        "swallowed log limit",
        body("try:\n    while True:\n        print('x' * 1000)\nexcept BaseException:\n    pass"),
        {"LogLimitExceeded"},
        "log output exceeds",
    ),
    (
        "huge return",
        body("data['payload'] = 'x' * (2 * 1024 * 1024)"),
        {"ResultTooLarge"},
        "more than the limit",
    ),
    ("sleep past the timeout", "import time\n" + body("time.sleep(30)"), {"TimeoutError"}, "longer than 2 s"),
]


@pytest.fixture
def healthy_check(make_version: Callable[..., ScriptVersion]) -> ScriptVersion:
    return make_version(TRIVIAL_CODE, name="Health check")


@pytest.mark.parametrize(
    ("code", "fragment"), [case[1:] for case in REFUSED_AT_DEPLOY], ids=[c[0] for c in REFUSED_AT_DEPLOY]
)
def test_hostile_script_is_refused_at_deploy_and_when_run_as_a_draft(
    code: str, fragment: str, editor_client: APIClient, healthy_check: ScriptVersion
) -> None:
    script = create_script(name="Hostile", code=code)
    with pytest.raises(ScriptDeployError) as refused:
        deploy_script(script)
    messages = [problem.message for problem in refused.value.problems]
    assert any(fragment in message for message in messages), messages
    assert all(problem.line >= 1 and problem.column >= 1 for problem in refused.value.problems)
    assert not ScriptVersion.objects.filter(script=script).exists()

    # The worker compiles drafts under the same policy: the test button refuses the code too.
    answer = editor_client.post(f"/api/scripts/{script.pk}/test/", {"data": {}}, format="json")
    assert answer.status_code == 200
    assert answer.json()["ok"] is False
    assert answer.json()["error"]["type"] in {"CompileError", "SyntaxError"}
    assert_pool_healthy(healthy_check)


@pytest.mark.parametrize(
    ("code", "error_types", "fragment"), [case[1:] for case in FAIL_AT_RUN], ids=[c[0] for c in FAIL_AT_RUN]
)
def test_hostile_script_fails_clearly_when_it_runs(
    code: str,
    error_types: set[str],
    fragment: str | None,
    make_version: Callable[..., ScriptVersion],
    healthy_check: ScriptVersion,
) -> None:
    version = make_version(code, name="Hostile")
    with pytest.raises(ScriptError) as failed:
        run_script(version, {"payload": "x", "variables": {}, "meta": {}, "flow": {}})
    error = failed.value
    assert error.error_type in error_types, str(error)
    if fragment is not None:
        assert fragment in error.message, str(error)
    assert str(error).startswith("Script 'Hostile' v1")
    assert_pool_healthy(healthy_check)
