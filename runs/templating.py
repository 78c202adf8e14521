"""Placeholders `[[payload.x]]`, `[[meta.x]]`, `[[flow.variables.x]]`, `[[variables.x]]` (docs/shapes.md).

Rendered by Jinja2's sandboxed environment with `[[ ]]` as variable delimiters (and `[% %]`, `[# #]` for
blocks and comments, so JSON and XML bodies full of `{` never clash with template syntax). An undefined
placeholder is an error that names it; values that are objects, lists, booleans or null render as JSON.

Bounded: a template is user input that runs inside the executor, so results that would take seconds of
CPU or gigabytes of memory are refused before they are computed (`TemplateLimitExceeded`, a step error):

- `**` whose integer result would pass PATCHBAY_TEMPLATE_MAX_INT_BITS bits, and `*` of integers likewise
  (`10 ** (5*10**6)` takes seconds to compute; its digits are never needed);
- repeating a string or list (`'x' * n`) and padding widths (`center`, `ljust`, `'%9999d' % 1`,
  `'{:9999}'.format(1)`) beyond PATCHBAY_TEMPLATE_MAX_OUTPUT characters;
- `range()` longer than PATCHBAY_TEMPLATE_MAX_RANGE, or more than that many range steps in one render
  (nested loops);
- output longer than PATCHBAY_TEMPLATE_MAX_OUTPUT characters.
"""

from __future__ import annotations

import contextvars
import json
import math
import operator
import re
import string
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.filters import do_center, do_format, do_indent
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

PLACEHOLDER = re.compile(r"\[\[\s*(.*?)\s*\]\]", re.DOTALL)


class TemplateError(Exception):
    """A template could not be rendered; the message names the placeholder or the syntax problem."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TemplateLimitExceeded(TemplateError):
    """A template asked for a result beyond one of the limits (module docstring)."""


def max_int_bits() -> int:
    return int(getattr(settings, "PATCHBAY_TEMPLATE_MAX_INT_BITS", 65536))


def max_output() -> int:
    return int(getattr(settings, "PATCHBAY_TEMPLATE_MAX_OUTPUT", 64 * 1024 * 1024))


def max_range() -> int:
    return int(getattr(settings, "PATCHBAY_TEMPLATE_MAX_RANGE", 100_000))


# Range steps left in the render under way (one budget per render, shared by nested loops).
_range_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("range_budget", default=None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power(base: Any, exponent: Any) -> None:
    if not (_is_int(base) and _is_int(exponent)) or exponent <= 0 or abs(base) <= 1:
        return
    bits = exponent * math.log2(abs(base))
    if bits > max_int_bits():
        raise TemplateLimitExceeded(
            f"Template refused: the power {base} ** {exponent} has about {int(bits):,} bits, beyond the "
            f"limit of {max_int_bits():,} bits (PATCHBAY_TEMPLATE_MAX_INT_BITS)."
        )


def _check_repeat(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        bits = abs(left).bit_length() + abs(right).bit_length()
        if bits > max_int_bits():
            raise TemplateLimitExceeded(
                f"Template refused: a number of about {bits:,} bits is beyond the limit of "
                f"{max_int_bits():,} bits (PATCHBAY_TEMPLATE_MAX_INT_BITS)."
            )
        return
    sequence, count = (left, right) if _is_int(right) else (right, left)
    if not _is_int(count) or not isinstance(sequence, (str, bytes, list, tuple)):
        return
    if count > 0 and len(sequence) * count > max_output():
        raise TemplateLimitExceeded(
            f"Template refused: repeat of {len(sequence):,} items {count:,} times is beyond the limit of "
            f"{max_output():,} (PATCHBAY_TEMPLATE_MAX_OUTPUT)."
        )


def _check_width(width: Any, what: str) -> None:
    if _is_int(width) and width > max_output():
        raise TemplateLimitExceeded(
            f"Template refused: {what} width {width:,} is beyond the limit of {max_output():,} "
            "(PATCHBAY_TEMPLATE_MAX_OUTPUT)."
        )


# `%d`, `%-10s`, `%.*f`: the widths and precisions a %-format string asks for.
_PERCENT_WIDTHS = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
# The width and precision of a str.format spec (`>10`, `010.3f`, `x^20,`).
_SPEC_WIDTHS = re.compile(r"^(?:.?[<>=^])?[+\- ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?")


def _check_numbers(numbers: tuple[str | None, ...]) -> None:
    for number in numbers:
        if number == "*":
            raise TemplateLimitExceeded("Template refused: a '*' format width has no width limit.")
        if number:
            _check_width(int(number) if len(number) < 20 else 10**20, "format")


def _check_format_string(text: Any) -> None:
    if not isinstance(text, str):
        return
    if "%" in text:
        for match in _PERCENT_WIDTHS.finditer(text):
            _check_numbers(match.groups())
    if "{" in text:
        try:
            fields = list(string.Formatter().parse(text))
        except ValueError:
            return  # str.format raises the same error itself
        for _literal, _name, spec, _conversion in fields:
            if not spec:
                continue
            if "{" in spec:
                raise TemplateLimitExceeded("Template refused: a nested format width has no width limit.")
            spec_match = _SPEC_WIDTHS.match(spec)
            if spec_match:
                _check_numbers(spec_match.groups())


def _bounded_range(*args: Any) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > max_range():
        raise TemplateLimitExceeded(
            f"Template refused: range of {len(numbers):,} numbers is beyond the limit of {max_range():,} "
            "(PATCHBAY_TEMPLATE_MAX_RANGE)."
        )
    budget = _range_budget.get()
    for number in numbers:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise TemplateLimitExceeded(
                    f"Template refused: more than {max_range():,} range steps in one render (nested loops) "
                    "is beyond the limit (PATCHBAY_TEMPLATE_MAX_RANGE)."
                )
        yield number


def _bounded_center(value: Any, width: int = 80) -> str:
    _check_width(width, "center")
    return do_center(value, width)


def _bounded_indent(value: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
    _check_width(width, "indent")
    if isinstance(width, str):
        _check_width(len(width), "indent")
    return do_indent(value, width, *args, **kwargs)


def _bounded_format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_format_string(value)
    return do_format(value, *args, **kwargs)


# str methods whose first argument is a width the result is padded to.
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _finalize(value: Any) -> Any:
    if isinstance(value, (dict, list, bool)) or value is None:
        return json.dumps(value, ensure_ascii=False)
    return value


class _PlaceholderEnvironment(SandboxedEnvironment):
    """Looks keys up before attributes on dicts: `[[payload.items]]` is the payload's "items" key, never the
    dict's `items` method (payload keys named like dict methods are common: items, keys, values, update)."""

    # Operators checked by call_binop (interception also stops Jinja from folding `10 ** 10**9` at
    # compile time).
    intercepted_binops = frozenset({"**", "*", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            _check_power(left, right)
        elif operator_name == "*":
            _check_repeat(left, right)
        elif operator_name == "%":
            _check_format_string(left)
        return _BINOPS[operator_name](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # Jinja's own signature: the double underscores keep `self` and `context` free as keyword names.
        # The sandbox hands out str.format wrapped (functools.update_wrapper keeps `__wrapped__`).
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _PADDING_METHODS and args:
                _check_width(args[0], name)
            elif name in ("format", "format_map"):
                _check_format_string(owner)
        return super().call(__context, __obj, *args, **kwargs)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": operator.pow,
    "*": operator.mul,
    "%": operator.mod,
}


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
_environment.globals["range"] = _bounded_range
_environment.filters["center"] = _bounded_center
_environment.filters["indent"] = _bounded_indent
_environment.filters["format"] = _bounded_format


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
    token = _range_budget.set([max_range()])
    try:
        return _render_bounded(_compile(source), context)
    except TemplateLimitExceeded:
        raise
    except UndefinedError as exc:
        name = _undefined_placeholder(source, context)
        raise TemplateError(f"Placeholder [[{name}]] is undefined ({exc.message}).") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(f"Template syntax error on line {exc.lineno}: {exc.message}") from exc
    except SecurityError as exc:
        raise TemplateError(f"Template refused by the sandbox: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise TemplateError(f"Template could not be rendered: {exc}") from exc
    except RecursionError as exc:
        # A macro calling itself: bad input, not a server error (and its frames would hold the context).
        raise TemplateError("Template could not be rendered: it recurses too deeply.") from exc
    finally:
        _range_budget.reset(token)


def _render_bounded(template: Template, context: dict[str, Any]) -> str:
    """`template.render(context)`, stopped as soon as the output passes PATCHBAY_TEMPLATE_MAX_OUTPUT."""
    limit = max_output()
    parts: list[str] = []
    length = 0
    for part in template.generate(context):
        length += len(part)
        if length > limit:
            raise TemplateLimitExceeded(
                f"Template refused: the output passes the limit of {limit:,} characters "
                "(PATCHBAY_TEMPLATE_MAX_OUTPUT)."
            )
        parts.append(part)
    return "".join(parts)


def uses_payload(source: str | None) -> bool:
    return bool(source) and "payload" in str(source)
