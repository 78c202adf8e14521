"""Placeholders `[[payload.x]]`, `[[meta.x]]`, `[[flow.variables.x]]`, `[[variables.x]]` (docs/shapes.md).

Rendered by Jinja2's sandboxed environment with `[[ ]]` as variable delimiters (and `[% %]`, `[# #]` for
blocks and comments, so JSON and XML bodies full of `{` never clash with template syntax). An undefined
placeholder is an error that names it; values that are objects, lists, booleans or null render as JSON.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

PLACEHOLDER = re.compile(r"\[\[\s*(.*?)\s*\]\]", re.DOTALL)


class TemplateError(Exception):
    """A template could not be rendered; the message names the placeholder or the syntax problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _finalize(value: Any) -> Any:
    if isinstance(value, (dict, list, bool)) or value is None:
        return json.dumps(value, ensure_ascii=False)
    return value


class _PlaceholderEnvironment(SandboxedEnvironment):
    """Looks keys up before attributes on dicts: `[[payload.items]]` is the payload's "items" key, never the
    dict's `items` method (payload keys named like dict methods are common: items, keys, values, update)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_environment = _PlaceholderEnvironment(
    variable_start_string="[[",
    variable_end_string="]]",
    block_start_string="[%",
    block_end_string="%]",
    comment_start_string="[#",
    comment_end_string="#]",
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
)


@lru_cache(maxsize=1024)
def _compile(source: str) -> Template:
    return _environment.from_string(source)


def parse_payload(payload: str | None) -> Any:
    """The payload parsed as JSON, or the text itself when it is not JSON."""
    if payload is None:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def template_context(
    *,
    payload: str | None,
    meta: dict[str, Any] | None,
    variables: dict[str, Any] | None,
    flow: dict[str, Any],
    parse: bool = True,
) -> dict[str, Any]:
    """The names a template sees. `flow` is `{"id", "name", "run_id", "variables"}`."""
    return {
        "payload": parse_payload(payload) if parse else payload,
        "meta": dict(meta or {}),
        "variables": dict(variables or {}),
        "flow": flow,
    }


def _undefined_placeholder(source: str, context: dict[str, Any]) -> str:
    for match in PLACEHOLDER.finditer(source):
        expression = match.group(1)
        try:
            value = _environment.compile_expression(expression, undefined_to_none=False)(**context)
            str(value)
        except UndefinedError:
            return expression
        except Exception:  # noqa: S112 - a different problem; keep looking for the undefined one
            continue
    return "?"


def render_template(source: str | None, context: dict[str, Any]) -> str:
    """Render `source` with `context`; raises `TemplateError` naming an undefined placeholder."""
    if not source:
        return source or ""
    if "[[" not in source and "[%" not in source:
        return source
    try:
        return _compile(source).render(context)
    except UndefinedError as exc:
        name = _undefined_placeholder(source, context)
        raise TemplateError(f"Placeholder [[{name}]] is undefined ({exc.message}).") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Template syntax error on line {exc.lineno}: {exc.message}") from exc
    except SecurityError as exc:
        raise TemplateError(f"Template refused by the sandbox: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateError(f"Template could not be rendered: {exc}") from exc


def uses_payload(source: str | None) -> bool:
    return bool(source) and "payload" in str(source)
