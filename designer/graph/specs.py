"""Small declarative descriptions of shape settings.

Each spec checks a value (returning messages keyed by dotted setting path) and describes itself as JSON
Schema, so the server-side validation and the schema the canvas reads at /api/shape-types/ cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jmespath
from jmespath.exceptions import IncompleteExpressionError, JMESPathError

# (dotted setting path, message)
Problem = tuple[str, str]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def jmespath_problem(expression: str) -> str | None:
    """Why `expression` does not compile as JMESPath, in one short line; None when it compiles."""
    try:
        jmespath.compile(expression)
    except IncompleteExpressionError:
        return "the expression ends too early"
    except JMESPathError as exc:
        position = getattr(exc, "lex_position", None)
        token = getattr(exc, "token_value", None)
        near = f" near {token!r}" if token else ""
        return f"syntax error at column {position}{near}" if position is not None else "syntax error"
    return None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


@dataclass(frozen=True)
class Spec:
    description: str = ""
    nullable: bool = False

    def check(self, value: Any, path: str) -> list[Problem]:
        if value is None:
            return [] if self.nullable else [(path, f"Setting '{path}' must not be null.")]
        return self.check_value(value, path)

    def check_value(self, value: Any, path: str) -> list[Problem]:
        return []

    def schema(self) -> dict[str, Any]:
        result = self.base_schema()
        if self.description:
            result["description"] = self.description
        if self.nullable:
            kind = result.get("type")
            if isinstance(kind, str):
                result["type"] = [kind, "null"]
            elif "enum" in result:
                result["enum"] = [*result["enum"], None]
        return result

    def base_schema(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class AnyValue(Spec):
    def check(self, value: Any, path: str) -> list[Problem]:
        return []


@dataclass(frozen=True)
class Text(Spec):
    """A string. `template` marks [[...]] placeholder text; `jmespath` checks the expression compiles."""

    min_length: int = 0
    max_length: int | None = None
    template: bool = False
    jmespath: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not isinstance(value, str):
            return [(path, f"Setting '{path}' must be a string, not {_type_name(value)}.")]
        if self.choices and value not in self.choices:
            allowed = ", ".join(f"'{c}'" for c in self.choices)
            return [(path, f"Setting '{path}' must be one of {allowed}; got '{value}'.")]
        if len(value.strip()) < self.min_length:
            return [(path, f"Setting '{path}' must not be empty.")]
        if self.max_length is not None and len(value) > self.max_length:
            return [(path, f"Setting '{path}' must be at most {self.max_length} characters long.")]
        if self.jmespath and value:
            problem = jmespath_problem(value)
            if problem:
                return [(path, f"Setting '{path}' is not a valid JMESPath expression: {problem}.")]
        return []

    def base_schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "string"}
        if self.choices:
            result["enum"] = list(self.choices)
        if self.min_length:
            result["minLength"] = self.min_length
        if self.max_length is not None:
            result["maxLength"] = self.max_length
        if self.template:
            result["format"] = "template"
        if self.jmespath:
            result["format"] = "jmespath"
        if self.default is not None:
            result["default"] = self.default
        return result


@dataclass(frozen=True)
class Integer(Spec):
    minimum: int | None = None
    maximum: int | None = None
    default: int | None = None

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not _is_integer(value):
            return [(path, f"Setting '{path}' must be an integer, not {_type_name(value)}.")]
        return _range_problem(value, path, self.minimum, self.maximum)

    def base_schema(self) -> dict[str, Any]:
        return _range_schema({"type": "integer"}, self.minimum, self.maximum, self.default)


@dataclass(frozen=True)
class Number(Spec):
    minimum: float | None = None
    maximum: float | None = None
    default: float | None = None

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not _is_number(value):
            return [(path, f"Setting '{path}' must be a number, not {_type_name(value)}.")]
        return _range_problem(value, path, self.minimum, self.maximum)

    def base_schema(self) -> dict[str, Any]:
        return _range_schema({"type": "number"}, self.minimum, self.maximum, self.default)


def _range_problem(value: float, path: str, minimum: float | None, maximum: float | None) -> list[Problem]:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        return [(path, f"Setting '{path}' must be between {minimum} and {maximum}; got {value}.")]
    if minimum is not None and value < minimum:
        return [(path, f"Setting '{path}' must be at least {minimum}; got {value}.")]
    if maximum is not None and value > maximum:
        return [(path, f"Setting '{path}' must be at most {maximum}; got {value}.")]
    return []


def _range_schema(
    result: dict[str, Any], minimum: float | None, maximum: float | None, default: float | None
) -> dict[str, Any]:
    if minimum is not None:
        result["minimum"] = minimum
    if maximum is not None:
        result["maximum"] = maximum
    if default is not None:
        result["default"] = default
    return result


@dataclass(frozen=True)
class Boolean(Spec):
    default: bool | None = None

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not isinstance(value, bool):
            return [(path, f"Setting '{path}' must be true or false, not {_type_name(value)}.")]
        return []

    def base_schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "boolean"}
        if self.default is not None:
            result["default"] = self.default
        return result


@dataclass(frozen=True)
class Reference(Spec):
    """The id of a row in this installation: `kind` is connector, endpoint, script or flow."""

    kind: str = ""

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not _is_integer(value) or value < 1:
            return [(path, f"Setting '{path}' must be the id of a {self.kind}, not {value!r}.")]
        return []

    def base_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "x-reference": self.kind}


@dataclass(frozen=True)
class Email(Spec):
    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not isinstance(value, str) or not _EMAIL.match(value):
            return [(path, f"Setting '{path}' must be an email address; got {value!r}.")]
        return []

    def base_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "email"}


@dataclass(frozen=True)
class TemplateMap(Spec):
    """An object of names to template strings (variables, meta)."""

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not isinstance(value, dict):
            return [(path, f"Setting '{path}' must be an object of names to text, not {_type_name(value)}.")]
        problems: list[Problem] = []
        for key, item in value.items():
            if not str(key).strip():
                problems.append((path, f"Setting '{path}' has an empty name."))
            elif not isinstance(item, str):
                item_path = _join(path, key)
                problems.append(
                    (item_path, f"Setting '{item_path}' must be a string, not {_type_name(item)}.")
                )
        return problems

    def base_schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": {"type": "string", "format": "template"}}


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec = field(default_factory=AnyValue)
    min_items: int = 0
    unique: bool = False

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not isinstance(value, list):
            return [(path, f"Setting '{path}' must be a list, not {_type_name(value)}.")]
        if len(value) < self.min_items:
            noun = "item" if self.min_items == 1 else "items"
            return [(path, f"Setting '{path}' needs at least {self.min_items} {noun}.")]
        problems: list[Problem] = []
        for index, item in enumerate(value):
            problems.extend(self.item.check(item, _join(path, index)))
        return problems

    def base_schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "array", "items": self.item.schema()}
        if self.min_items:
            result["minItems"] = self.min_items
        return result


@dataclass(frozen=True)
class Object(Spec):
    """An object with known keys; unknown keys are refused so a mistyped setting name is reported."""

    fields: dict[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def check_value(self, value: Any, path: str) -> list[Problem]:
        if not isinstance(value, dict):
            return [(path, f"Setting '{path}' must be an object, not {_type_name(value)}.")]
        return self.check_members(value, path)

    def check_members(self, value: dict[str, Any], path: str) -> list[Problem]:
        problems: list[Problem] = []
        for name in self.required:
            if name not in value:
                problems.append((_join(path, name), f"Setting '{_join(path, name)}' is required."))
        for name, item in value.items():
            spec = self.fields.get(name)
            if spec is None:
                known = ", ".join(self.fields) or "none"
                problems.append(
                    (_join(path, name), f"Unknown setting '{_join(path, name)}' (known settings: {known}).")
                )
                continue
            problems.extend(spec.check(item, _join(path, name)))
        return problems

    def base_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: spec.schema() for name, spec in self.fields.items()},
            "required": list(self.required),
            "additionalProperties": False,
        }
