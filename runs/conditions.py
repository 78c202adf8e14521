"""Conditions of the filter, route and assert shapes (docs/shapes.md, "Conditions")."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from runs.templating import parse_payload


class ConditionError(Exception):
    """A condition is malformed (unknown operator, bad JMESPath or regular expression)."""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _equal(left: Any, right: Any) -> bool:
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    return _text(left) == _text(right)


def _compare(left: Any, right: Any) -> int:
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        return (left_number > right_number) - (left_number < right_number)
    left_text, right_text = _text(left), _text(right)
    return (left_text > right_text) - (left_text < right_text)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def apply_operator(operator: str, actual: Any, expected: Any) -> bool:
    """Whether `actual <operator> expected` holds."""
    if operator == "equals":
        return _equal(actual, expected)
    if operator == "not_equals":
        return not _equal(actual, expected)
    if operator in ("contains", "not_contains"):
        if isinstance(actual, list):
            found = any(_equal(item, expected) for item in actual)
        elif isinstance(actual, dict):
            found = _text(expected) in actual
        else:
            found = actual is not None and _text(expected) in _text(actual)
        return found if operator == "contains" else not found
    if operator == "starts_with":
        return actual is not None and _text(actual).startswith(_text(expected))
    if operator == "ends_with":
        return actual is not None and _text(actual).endswith(_text(expected))
    if operator in ("greater_than", "greater_or_equal", "less_than", "less_or_equal"):
        if actual is None:
            return False
        order = _compare(actual, expected)
        return {
            "greater_than": order > 0,
            "greater_or_equal": order >= 0,
            "less_than": order < 0,
            "less_or_equal": order <= 0,
        }[operator]
    if operator == "in":
        options = expected if isinstance(expected, list) else [expected]
        return any(_equal(actual, option) for option in options)
    if operator == "matches":
        try:
            return actual is not None and re.search(str(expected), _text(actual)) is not None
        except re.error as exc:
            raise ConditionError(f"Invalid regular expression {expected!r}: {exc}") from exc
    if operator == "exists":
        return actual is not None
    if operator == "not_exists":
        return actual is None
    if operator == "is_empty":
        return _is_empty(actual)
    if operator == "is_not_empty":
        return not _is_empty(actual)
    raise ConditionError(f"Unknown operator {operator!r}.")


class ConditionSubject:
    """The payload (parsed once), meta and flow variables the conditions of one step look at."""

    def __init__(self, *, payload: str | None, meta: dict[str, Any], variables: dict[str, Any]) -> None:
        self.payload = payload
        self.meta = meta
        self.variables = variables
        self._parsed: Any = None
        self._is_parsed = False

    def parsed_payload(self) -> Any:
        if not self._is_parsed:
            self._parsed = parse_payload(self.payload)
            self._is_parsed = True
        return self._parsed

    def value(self, source: str, path: str) -> Any:
        if source == "meta":
            return self.meta.get(path)
        if source == "variables":
            return self.variables.get(path)
        if source != "payload":
            raise ConditionError(f"Unknown condition source {source!r}.")
        try:
            return jmespath.search(path or "@", self.parsed_payload())
        except JMESPathError as exc:
            raise ConditionError(f"Invalid JMESPath {path!r}: {exc}") from exc


def evaluate_condition(condition: dict[str, Any], subject: ConditionSubject) -> bool:
    actual = subject.value(str(condition.get("source", "payload")), str(condition.get("path", "@")))
    return apply_operator(str(condition.get("operator", "equals")), actual, condition.get("value"))


def evaluate_conditions(
    conditions: list[dict[str, Any]], match: str | None, subject: ConditionSubject
) -> bool:
    """All (match "all", the default) or any (match "any") of `conditions` hold; an empty list holds."""
    if not conditions:
        return True
    results = (evaluate_condition(condition, subject) for condition in conditions)
    return any(results) if match == "any" else all(results)
