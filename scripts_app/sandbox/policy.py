"""The RestrictedPython policy for custom scripts: how a script is compiled and what it can reach.

Used inside the sandbox processes only (they compile, check and run scripts); the server imports it for
its constants. It imports nothing from Django.

What a script gets:
- its own module globals, rebuilt for every call, holding only the guards RestrictedPython's transformed
  code calls (`_getattr_`, `_getitem_`, `_getiter_`, `_write_`, `_inplacevar_`, `_apply_`, the unpack guards
  and `_print_`) and a builtins dict of harmless functions, types and exceptions;
- a guarded `__import__` that knows exactly the modules of DESIGN section 4, each as a read-only proxy that
  holds a curated list of public names. The real modules are never reachable: no submodules, nothing that
  opens files, processes or sockets, nothing that changes state shared with other scripts' calls.

What is refused at compile time (and so at deploy): syntax errors, every name and attribute starting with
`_`, the frame / code / traceback attributes of `INSPECT_ATTRIBUTES`, `exec` / `eval` / `compile` / `open`
and the other names of `FORBIDDEN_NAMES`, imports of anything not allowed, async code and `except*`, and
a script without a top-level `def handle(data)`.

What is refused at run time: attribute names starting with `_` (also when built at run time),
`str.format` / `format_map` templates whose fields use `.` or `[` (the classic attribute-walking trick),
returning module, frame, traceback or code objects from an attribute, and writes (attribute or item
assignment) to anything but plain containers, XML elements and instances of classes the script defined.
"""

from __future__ import annotations

import _string  # the C helper behind string.Formatter.parse; used only to read format templates
import _strptime  # what time.strptime / datetime.strptime import at their first call
import ast
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
import operator
import random
import re
import string
import time
import types
import urllib.parse
import uuid
import weakref
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, IOPERATOR_TO_STR, RestrictingNodeTransformer

SCRIPT_FILENAME = "<script>"
MAX_CODE_CHARS = 500_000

# Builtins a script must not name at all (refused at compile time with a clear message; none of them is in
# the sandbox builtins either, so a name built some other way fails with NameError).
FORBIDDEN_NAMES = frozenset(
    {
        "breakpoint",
        "compile",
        "copyright",
        "credits",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "hasattr",
        "help",
        "input",
        "license",
        "locals",
        "memoryview",
        "open",
        "quit",
        "setattr",
        "super",
        "type",
        "vars",
    }
)

_SAFE_BUILTIN_NAMES = [
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "complex",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "hash",
    "hex",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "tuple",
    "zip",
    "Ellipsis",
    "NotImplemented",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "BaseException",
    "EOFError",
    "Exception",
    "IndexError",
    "KeyError",
    "LookupError",
    "MemoryError",
    "NameError",
    "NotImplementedError",
    "OverflowError",
    "RecursionError",
    "RuntimeError",
    "StopIteration",
    "TypeError",
    "UnboundLocalError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "UnicodeError",
    "ValueError",
    "ZeroDivisionError",
]

# The modules of DESIGN section 4 and the public names each exposes. Left out on purpose: everything that
# reads or writes files or starts processes (json.load/dump, hashlib.file_digest, uuid.getnode/uuid1 which may
# run ifconfig, ElementTree.parse/iterparse/ElementTree/canonicalize/dump, base64.encode/decode), the
# attribute-walking formatters (string.Formatter, collections.UserString.format) and process-wide settings
# (csv.register_dialect/field_size_limit, ElementTree.register_namespace, decimal's shared contexts,
# random.getstate/setstate).
_MODULE_NAMES: dict[str, tuple[types.ModuleType, str]] = {
    "json": (json, "dumps loads JSONDecodeError JSONDecoder JSONEncoder"),
    "re": (
        re,
        "compile search match fullmatch split findall finditer sub subn escape error Pattern Match "
        "RegexFlag A ASCII I IGNORECASE M MULTILINE S DOTALL X VERBOSE U UNICODE NOFLAG",
    ),
    "math": (math, " ".join(name for name in dir(math) if not name.startswith("_"))),
    "datetime": (datetime, "date datetime time timedelta timezone tzinfo MINYEAR MAXYEAR UTC"),
    "time": (
        time,
        "time time_ns monotonic monotonic_ns perf_counter perf_counter_ns process_time process_time_ns "
        "sleep gmtime localtime mktime strftime strptime asctime ctime struct_time timezone altzone daylight "
        "tzname",
    ),
    "decimal": (
        decimal,
        "Decimal Context localcontext getcontext DecimalException InvalidOperation DivisionByZero Inexact "
        "Rounded Subnormal Overflow Underflow Clamped FloatOperation ROUND_UP ROUND_DOWN ROUND_CEILING "
        "ROUND_FLOOR ROUND_HALF_UP ROUND_HALF_DOWN ROUND_HALF_EVEN ROUND_05UP MAX_PREC MAX_EMAX MIN_EMIN",
    ),
    "hashlib": (
        hashlib,
        "md5 sha1 sha224 sha256 sha384 sha512 sha3_224 sha3_256 sha3_384 sha3_512 shake_128 shake_256 "
        "blake2b blake2s new pbkdf2_hmac algorithms_available algorithms_guaranteed",
    ),
    "hmac": (hmac, "new compare_digest digest HMAC"),
    "base64": (
        base64,
        "b64encode b64decode standard_b64encode standard_b64decode urlsafe_b64encode urlsafe_b64decode "
        "b32encode b32decode b32hexencode b32hexdecode b16encode b16decode b85encode b85decode a85encode "
        "a85decode encodebytes decodebytes",
    ),
    "uuid": (
        uuid,
        "UUID uuid3 uuid4 uuid5 NAMESPACE_DNS NAMESPACE_URL NAMESPACE_OID NAMESPACE_X500 RESERVED_NCS "
        "RFC_4122 RESERVED_MICROSOFT RESERVED_FUTURE SafeUUID",
    ),
    "random": (
        random,
        "random uniform triangular randint randrange choice choices shuffle sample getrandbits randbytes "
        "gauss normalvariate lognormvariate expovariate vonmisesvariate gammavariate betavariate "
        "paretovariate weibullvariate seed Random SystemRandom",
    ),
    "itertools": (itertools, " ".join(name for name in dir(itertools) if not name.startswith("_"))),
    "functools": (
        functools,
        "reduce partial lru_cache cache cmp_to_key total_ordering cached_property",
    ),
    "collections": (collections, "OrderedDict defaultdict Counter deque namedtuple ChainMap"),
    "string": (
        string,
        "ascii_letters ascii_lowercase ascii_uppercase capwords digits hexdigits octdigits printable "
        "punctuation whitespace Template",
    ),
    "urllib.parse": (
        urllib.parse,
        "quote quote_plus quote_from_bytes unquote unquote_plus unquote_to_bytes urlencode urlparse "
        "urlunparse urlsplit urlunsplit urljoin urldefrag parse_qs parse_qsl ParseResult SplitResult "
        "DefragResult",
    ),
    "csv": (
        csv,
        "reader writer DictReader DictWriter Dialect excel excel_tab unix_dialect Sniffer Error QUOTE_ALL "
        "QUOTE_MINIMAL QUOTE_NONE QUOTE_NONNUMERIC get_dialect list_dialects",
    ),
    "xml.etree.ElementTree": (
        ElementTree,
        "Element SubElement Comment ProcessingInstruction PI QName XML fromstring fromstringlist tostring "
        "tostringlist iselement indent ParseError",
    ),
}
ALLOWED_MODULES: tuple[str, ...] = tuple(_MODULE_NAMES)
_PACKAGES = ("xml", "xml.etree", "urllib")


class ModuleProxy:
    """A read-only stand-in for an allowed module (or package) holding only its curated public names."""

    __slots__ = ("_proxy_members", "_proxy_name")

    def __init__(self, name: str, members: dict[str, Any]) -> None:
        object.__setattr__(self, "_proxy_name", name)
        object.__setattr__(self, "_proxy_members", dict(members))

    def __getattr__(self, name: str) -> Any:
        members = object.__getattribute__(self, "_proxy_members")
        if name in members:
            return members[name]
        module = object.__getattribute__(self, "_proxy_name")
        raise AttributeError(f"module {module!r} has no attribute {name!r} available in scripts")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("modules are read-only in scripts")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("modules are read-only in scripts")

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_proxy_name')!r} (script sandbox)>"


def _module_members(module: types.ModuleType, names: str) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name in names.split():
        if not hasattr(module, name):  # e.g. a name added in a later Python version
            continue
        value = getattr(module, name)
        if isinstance(value, (set, frozenset)):
            value = frozenset(value)  # hashlib.algorithms_*: a shared mutable set becomes an immutable copy
        members[name] = value
    return members


def _build_proxies() -> tuple[dict[str, ModuleProxy], dict[str, ModuleProxy]]:
    modules = {
        name: ModuleProxy(name, _module_members(m, names)) for name, (m, names) in _MODULE_NAMES.items()
    }
    packages: dict[str, ModuleProxy] = {}
    for package in sorted(_PACKAGES, key=lambda p: -p.count(".")):  # innermost first
        children = {
            full.rsplit(".", 1)[1]: (modules.get(full) or packages[full])
            for full in list(modules) + list(packages)
            if full.rsplit(".", 1)[0] == package and "." in full
        }
        packages[package] = ModuleProxy(package, children)
    return modules, packages


MODULE_PROXIES, PACKAGE_PROXIES = _build_proxies()


# What the C code behind time.strptime and datetime.strptime imports (through the `__import__` of the calling
# script's builtins, so the guarded one): only its two entry points, never the module itself.
_STRPTIME_PROXY = ModuleProxy(
    "_strptime",
    {"_strptime_time": _strptime._strptime_time, "_strptime_datetime": _strptime._strptime_datetime},
)


def guarded_import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: Iterable[str] | None = (),
    level: int = 0,
) -> ModuleProxy:
    """`__import__` for scripts: the allowed modules only, as read-only proxies."""
    if level != 0:
        raise ImportError("relative imports are not allowed in scripts")
    wanted = list(fromlist or ())
    if name == "_strptime":
        # Scripts cannot write this import (names starting with "_" are refused at compile time); it comes
        # from strptime's C implementation.
        return _STRPTIME_PROXY
    if name in MODULE_PROXIES:
        if wanted:
            return MODULE_PROXIES[name]
        top = name.split(".", 1)[0]
        return PACKAGE_PROXIES.get(top) or MODULE_PROXIES[name]
    if name in PACKAGE_PROXIES and wanted and all(f"{name}.{item}" in _import_targets() for item in wanted):
        return PACKAGE_PROXIES[name]
    raise ImportError(_import_refusal(name))


def _import_targets() -> set[str]:
    return set(MODULE_PROXIES) | set(PACKAGE_PROXIES)


def _import_refusal(name: str) -> str:
    return f"import of {name!r} is not allowed in scripts (allowed: {', '.join(ALLOWED_MODULES)})"


# --- Compilation ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompileProblem:
    """Why a script does not compile. `line` and `column` are 1-based; `kind` is SyntaxError or
    CompileError (a policy refusal)."""

    line: int
    column: int
    message: str
    kind: str = "CompileError"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


class ScriptCompileError(Exception):
    """Raised by `compile_script` with every problem found, the first one in source order first."""

    def __init__(self, problems: list[CompileProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("; ".join(f"line {p.line}: {p.message}" for p in self.problems))


class ScriptPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer plus Patchbay's import and name rules, recording line and column."""

    def __init__(self) -> None:
        super().__init__(errors=[], warnings=[], used_names={})
        self.problems: list[CompileProblem] = []

    def error(self, node: ast.AST, info: str) -> None:
        super().error(node, info)
        line = getattr(node, "lineno", None) or 1
        column = (getattr(node, "col_offset", None) or 0) + 1
        self.problems.append(CompileProblem(line=line, column=column, message=info))

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in FORBIDDEN_NAMES:
            self.error(node, f'"{node.id}" is not available in scripts.')
        return super().visit_Name(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        """RestrictedPython rebuilds every class statement from a parsed template, which puts it (and so
        any error raised while the class is created) at line 1: give it the statement's own location."""
        new_node = super().visit_ClassDef(node)
        if isinstance(new_node, ast.ClassDef):
            ast.copy_location(new_node, node)
            for keyword in new_node.keywords:
                ast.copy_location(keyword, node)
                ast.copy_location(keyword.value, node)
        return new_node

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """`counts[key] += 1` and `self.total += x`, which RestrictedPython refuses, become guarded statements
        that evaluate the object and key once: `t = obj; k = key; _write_(t)[k] = _inplacevar_(op,
        _getitem_(t, k), value)` (and the same with `_getattr_` for attributes)."""
        if not isinstance(node.target, (ast.Subscript, ast.Attribute)):
            return super().visit_AugAssign(node)
        operator_text = IOPERATOR_TO_STR[type(node.op)]
        node = self.node_contents_visit(node)  # the target becomes `_write_(obj)[key]` / `_write_(obj).attr`
        target = node.target
        if not isinstance(target, (ast.Subscript, ast.Attribute)):  # the transformer keeps the node type
            self.error(node, "This augmented assignment is not supported in scripts.")
            return node
        write_call = target.value
        if not (isinstance(write_call, ast.Call) and write_call.args):
            self.error(node, "This augmented assignment is not supported in scripts.")
            return node
        object_name = self.gen_tmp_name()
        statements: list[ast.stmt] = [
            ast.Assign(targets=[ast.Name(object_name, ast.Store())], value=write_call.args[0])
        ]
        write_call.args[0] = ast.Name(object_name, ast.Load())
        if isinstance(target, ast.Subscript):
            key_name = self.gen_tmp_name()
            statements.append(ast.Assign(targets=[ast.Name(key_name, ast.Store())], value=target.slice))
            target.slice = ast.Name(key_name, ast.Load())
            current: ast.expr = ast.Call(
                func=ast.Name("_getitem_", ast.Load()),
                args=[ast.Name(object_name, ast.Load()), ast.Name(key_name, ast.Load())],
                keywords=[],
            )
        else:
            current = ast.Call(
                func=ast.Name("_getattr_", ast.Load()),
                args=[ast.Name(object_name, ast.Load()), ast.Constant(target.attr)],
                keywords=[],
            )
        statements.append(
            ast.Assign(
                targets=[target],
                value=ast.Call(
                    func=ast.Name("_inplacevar_", ast.Load()),
                    args=[ast.Constant(operator_text), current, node.value],
                    keywords=[],
                ),
            )
        )
        for statement in statements:
            ast.copy_location(statement, node)
            ast.fix_missing_locations(statement)
        return statements

    def visit_Import(self, node: ast.Import) -> Any:
        for alias in node.names:
            if alias.name not in MODULE_PROXIES:
                self.error(node, _import_refusal(alias.name) + ".")
        return super().visit_Import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        module = node.module or ""
        if node.level:
            self.error(node, "Relative imports are not allowed in scripts.")
        elif module in MODULE_PROXIES:
            members = object.__getattribute__(MODULE_PROXIES[module], "_proxy_members")
            for alias in node.names:
                if alias.name != "*" and alias.name not in members:
                    self.error(node, f"{alias.name!r} of module {module!r} is not available in scripts.")
        elif module in PACKAGE_PROXIES:
            for alias in node.names:
                if f"{module}.{alias.name}" not in _import_targets():
                    self.error(node, _import_refusal(f"{module}.{alias.name}") + ".")
        else:
            self.error(node, _import_refusal(module) + ".")
        return super().visit_ImportFrom(node)


def _check_handle(tree: ast.Module) -> list[CompileProblem]:
    handles = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "handle"]
    if not handles:
        return [CompileProblem(1, 1, "The script must define a top-level function handle(data).")]
    handle = handles[-1]
    args = handle.args
    positional = len(args.posonlyargs) + len(args.args)
    if positional != 1 or args.vararg or args.kwarg or args.kwonlyargs or args.defaults:
        return [
            CompileProblem(
                handle.lineno,
                handle.col_offset + 1,
                "handle must take exactly one positional parameter, like handle(data).",
            )
        ]
    return []


def compile_script(code: str) -> types.CodeType:
    """Compile a script under the policy. Raises ScriptCompileError listing every problem."""
    if len(code) > MAX_CODE_CHARS:
        raise ScriptCompileError(
            [CompileProblem(1, 1, f"The script is longer than {MAX_CODE_CHARS} characters.")]
        )
    try:
        tree = ast.parse(code, SCRIPT_FILENAME, "exec")
    except SyntaxError as exc:
        problem = CompileProblem(exc.lineno or 1, exc.offset or 1, f"SyntaxError: {exc.msg}", "SyntaxError")
        raise ScriptCompileError([problem]) from None
    except (RecursionError, MemoryError):
        raise ScriptCompileError(
            [CompileProblem(1, 1, "The script is nested too deeply to parse.")]
        ) from None
    except ValueError as exc:  # e.g. a null byte in the source
        raise ScriptCompileError([CompileProblem(1, 1, f"The script cannot be parsed: {exc}")]) from None
    problems = _check_handle(tree)
    policy = ScriptPolicy()
    try:
        policy.visit(tree)
    except RecursionError:
        problems.append(CompileProblem(1, 1, "The script is nested too deeply to compile."))
    problems.extend(policy.problems)
    if problems:
        raise ScriptCompileError(problems)
    try:
        return compile(tree, SCRIPT_FILENAME, "exec")
    except MemoryError:
        raise ScriptCompileError(
            [
                CompileProblem(
                    1, 1, "The script cannot be compiled within the sandbox limits: it needs more memory."
                )
            ]
        ) from None
    except (SyntaxError, ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None) or 1
        raise ScriptCompileError([CompileProblem(line, 1, f"The script cannot be compiled: {exc}")]) from None


# --- Run-time guards -------------------------------------------------------------------------------------


class SandboxLimitExceeded(BaseException):
    """A limit of the sandbox was hit. A BaseException so that `except Exception` in a script does not
    swallow it; the worker also remembers the breach, so catching it anyway does not help."""

    error_type = "LimitExceeded"


class LogLimitExceeded(SandboxLimitExceeded):
    error_type = "LogLimitExceeded"


_UNREACHABLE_TYPES = (types.ModuleType, types.FrameType, types.TracebackType, types.CodeType)


def _check_format_template(template: str) -> None:
    for _literal, field, spec, _conversion in _string.formatter_parser(template):
        if field is not None and ("." in field or "[" in field):
            raise ValueError(
                "format fields cannot use '.' or '[' in scripts; pass the values themselves instead"
            )
        if spec:
            _check_format_template(spec)


def safe_format(template: str, /, *args: Any, **kwargs: Any) -> str:
    if not isinstance(template, str):
        raise TypeError("format() needs a string template")
    _check_format_template(template)
    return str.format(template, *args, **kwargs)


def safe_format_map(template: str, mapping: Any, /) -> str:
    if not isinstance(template, str):
        raise TypeError("format_map() needs a string template")
    _check_format_template(template)
    return str.format_map(template, mapping)


def guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    """`obj.name` in a script (and the `_getattr_` of RestrictedPython)."""
    if not isinstance(name, str):
        raise TypeError("attribute names must be strings")
    if name.startswith("_") or name in INSPECT_ATTRIBUTES:
        raise AttributeError(f"attribute {name!r} is not available in scripts")
    if name in ("format", "format_map"):
        if isinstance(obj, str):
            return functools.partial(safe_format if name == "format" else safe_format_map, obj)
        if isinstance(obj, type) and issubclass(obj, str):
            return safe_format if name == "format" else safe_format_map
    value = getattr(obj, name, *default)
    if isinstance(value, _UNREACHABLE_TYPES):
        raise AttributeError(f"attribute {name!r} is not available in scripts")
    return value


_SANDBOX_CLASSES: weakref.WeakSet[type] = weakref.WeakSet()
# Instances a script creates and may change: plain containers and XML elements. Everything else is either
# immutable or may be shared with other calls (classes, module constants), so writes to it are refused.
_WRITABLE_TYPES = (dict, list, set, bytearray, collections.deque, ElementTree.Element)


def guarded_write(obj: Any) -> Any:
    """The `_write_` guard: the object itself when the script may change it, else a TypeError."""
    if isinstance(obj, _WRITABLE_TYPES) or type(obj) in _SANDBOX_CLASSES:
        return obj
    if isinstance(obj, type) and obj in _SANDBOX_CLASSES:
        return obj
    raise TypeError(f"{type(obj).__name__} objects cannot be changed in scripts")


def _sandbox_metaclass(name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
    """The `__metaclass__` RestrictedPython makes every class statement use: a plain class, remembered so
    that the script may set attributes on it and on its instances."""
    if kwargs:
        raise TypeError("class keywords are not allowed in scripts")
    cls = type(name, bases, dict(namespace))
    _SANDBOX_CLASSES.add(cls)
    return cls


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "//=": operator.ifloordiv,
    "@=": operator.imatmul,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    return _INPLACE_OPERATORS[op](target, value)


def guarded_apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def guarded_getiter(obj: Any) -> Iterator[Any]:
    return iter(obj)


def guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (which no database or JSON renderer accepts) shown as escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class LogCollector:
    """The print output of one call: one entry per print(), at most `limit` bytes in total."""

    def __init__(self, limit: int) -> None:
        self.entries: list[str] = []
        self.limit = limit
        self.size = 0
        self.exceeded = False

    def add(self, text: str) -> None:
        text = valid_unicode(text)
        self.size += len(text.encode("utf-8")) + 1
        if self.size > self.limit:
            self.exceeded = True
            raise LogLimitExceeded(f"log output exceeds the limit of {self.limit} bytes")
        self.entries.append(text)


class _Printer:
    """What `print` becomes inside a script function (RestrictedPython's `_print_` protocol)."""

    def __init__(self, collector: LogCollector) -> None:
        self._collector = collector
        self._text: list[str] = []

    def _call_print(
        self,
        *objects: Any,
        sep: str | None = " ",
        end: str | None = "\n",
        file: Any = None,
        flush: bool = False,
    ) -> None:
        if file is not None:
            raise TypeError("print(file=...) is not available in scripts")
        if self._collector.exceeded:
            raise LogLimitExceeded(f"log output exceeds the limit of {self._collector.limit} bytes")
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("sep and end must be strings")
        text = sep.join(str(item) for item in objects)
        self._text.append(text + end)
        self._collector.add(text + end.removesuffix("\n"))

    def __call__(self) -> str:
        return "".join(self._text)


def _builtins() -> dict[str, Any]:
    import builtins

    safe = {name: getattr(builtins, name) for name in _SAFE_BUILTIN_NAMES}
    safe.update({"None": None, "True": True, "False": False})
    safe["__build_class__"] = builtins.__build_class__
    safe["__import__"] = guarded_import
    return safe


# Shared by every call: scripts cannot name `__builtins__`, so they cannot change it.
SAFE_BUILTINS = _builtins()


def script_globals(collector: LogCollector) -> dict[str, Any]:
    """Fresh module globals for one call of a script."""
    return {
        "__builtins__": SAFE_BUILTINS,
        "__name__": "script",
        "__metaclass__": _sandbox_metaclass,
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": guarded_getiter,
        "_write_": guarded_write,
        "_inplacevar_": guarded_inplacevar,
        "_apply_": guarded_apply,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_print_": lambda _getattr=None: _Printer(collector),
    }
