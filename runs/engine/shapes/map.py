"""Map: builds a JSON object from the input JSON with JMESPath sources, dotted targets and transforms."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload

_MISSING = object()


def _load_json(item: WorkPayload) -> Any:
    if item.payload is None or item.payload.strip() == "":
        return {}
    try:
        return json.loads(item.payload)
    except ValueError as exc:
        raise StepFailed(f"The map shape needs a JSON payload: {exc}") from exc


def _number(value: Any, *, integer: bool, target: str) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value) if integer else value
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise StepFailed(f"Map target '{target}': {value!r} is not a number.") from exc
    if integer:
        return int(number)
    return int(number) if number == number.to_integral_value() and "." not in str(value) else float(number)


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "y", "on"}
    return bool(value)


def _transform(context: StepContext, mapping: dict[str, Any], value: Any, target: str) -> Any:
    name = str(mapping.get("transform") or "none")
    if name == "none":
        return value
    if value is None and name != "script":
        return None
    if name == "upper":
        return str(value).upper()
    if name == "lower":
        return str(value).lower()
    if name == "trim":
        return str(value).strip()
    if name == "string":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if name == "number":
        return _number(value, integer=False, target=target)
    if name == "integer":
        return _number(value, integer=True, target=target)
    if name == "boolean":
        return _boolean(value)
    if name == "length":
        try:
            return len(value)
        except TypeError as exc:
            raise StepFailed(f"Map target '{target}': {value!r} has no length.") from exc
    if name == "json":
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise StepFailed(f"Map target '{target}': value is not JSON ({exc}).") from exc
        return value
    if name == "script":
        if mapping.get("script") in (None, ""):
            raise StepFailed(f"Map target '{target}': the script transform has no script set.")
        data = context.script_data(WorkPayload(json.dumps(value, ensure_ascii=False), {}))
        result = context.run_script(script_id=mapping["script"], version=mapping.get("version"), data=data)
        if result.payload is None:
            return None
        try:
            return json.loads(result.payload)
        except (TypeError, ValueError) as exc:
            raise StepFailed(f"Map target '{target}': the script did not return a JSON payload.") from exc
    raise StepFailed(f"Map target '{target}': unknown transform {name!r}.")


def _assign(document: dict[str, Any], target: str, value: Any) -> None:
    parts = [part for part in target.split(".") if part]
    if not parts:
        raise StepFailed("A map target is empty.")
    node = document
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    mappings = context.settings.get("mappings") or []
    source_document = _load_json(item)
    if context.settings.get("output") == "merge":
        if not isinstance(source_document, dict):
            raise StepFailed("The map shape's merge output needs a JSON object payload.")
        document: dict[str, Any] = json.loads(json.dumps(source_document))
    else:
        document = {}
    for mapping in mappings:
        target = str(mapping.get("target") or "")
        try:
            value = jmespath.search(str(mapping.get("source") or "@"), source_document)
        except JMESPathError as exc:
            raise StepFailed(
                f"Map target '{target}': invalid JMESPath {mapping.get('source')!r}: {exc}"
            ) from exc
        if value is None and "default" in mapping:
            value = mapping["default"]
        _assign(document, target, _transform(context, mapping, value, target))
    return Outcome.ok([Emit(json.dumps(document, ensure_ascii=False), item.meta)])
