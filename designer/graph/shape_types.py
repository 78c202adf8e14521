"""The shape types of docs/shapes.md: their settings (as specs) and the rules that span several settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from croniter import CroniterBadDateError, croniter

from designer.graph.specs import (
    AnyValue,
    Boolean,
    Email,
    Integer,
    ListOf,
    Number,
    Object,
    Problem,
    Reference,
    TemplateMap,
    Text,
)

OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_or_equal",
    "in",
    "matches",
    "exists",
    "not_exists",
    "is_empty",
    "is_not_empty",
)
OPERATORS_WITHOUT_VALUE = ("exists", "not_exists", "is_empty", "is_not_empty")
MATCH = Text(choices=("all", "any"), default="all", description="How the conditions combine.")
TRANSFORMS = (
    "none",
    "upper",
    "lower",
    "trim",
    "string",
    "number",
    "integer",
    "boolean",
    "length",
    "json",
    "script",
)


@dataclass(frozen=True)
class Condition(Object):
    """A condition of filter, route and assert shapes (docs/shapes.md, "Conditions")."""

    def check_members(self, value: dict[str, Any], path: str) -> list[Problem]:
        problems = super().check_members(value, path)
        if problems:
            return problems
        operator = value["operator"]
        source = value.get("source", "payload")
        if source == "payload" and value["path"]:
            problems.extend(Text(jmespath=True).check(value["path"], f"{path}.path"))
        if operator in OPERATORS_WITHOUT_VALUE:
            return problems
        if "value" not in value:
            problems.append(
                (f"{path}.value", f"Setting '{path}.value' is required for operator '{operator}'.")
            )
        elif operator == "in" and not isinstance(value["value"], list):
            problems.append((f"{path}.value", f"Setting '{path}.value' must be a list for operator 'in'."))
        elif operator == "matches":
            pattern = value["value"]
            if not isinstance(pattern, str):
                problems.append(
                    (f"{path}.value", f"Setting '{path}.value' must be a regular expression string.")
                )
            else:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(
                        (f"{path}.value", f"Setting '{path}.value' is not a valid regular expression: {exc}.")
                    )
        return problems


CONDITION = Condition(
    description="A condition on the payload, its meta or the flow variables.",
    fields={
        "source": Text(choices=("payload", "meta", "variables"), default="payload"),
        "path": Text(description="JMESPath into the payload (source payload) or a meta / variable name."),
        "operator": Text(choices=OPERATORS),
        "value": AnyValue(description="Compared value; a list for 'in', a regular expression for 'matches'."),
    },
    required=("path", "operator"),
)


@dataclass(frozen=True)
class ShapeType:
    type: str
    label: str
    description: str
    settings: Object
    # Which attribute outgoing connections carry: "label" (route, try_catch), "order" (branch) or None.
    connection_attribute: str | None = None
    extra_rules: tuple[Any, ...] = field(default=())

    def check_settings(self, settings: Any) -> list[Problem]:
        if not isinstance(settings, dict):
            return [("", "Shape settings must be an object.")]
        problems = self.settings.check_members(settings, "")
        if problems:
            # Cross-setting rules assume each setting has the right type.
            return problems
        for rule in self.extra_rules:
            problems.extend(rule(settings))
        return problems

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "connection_attribute": self.connection_attribute,
            "settings": self.settings.schema(),
        }


def _is_five_field_cron(expression: str) -> bool:
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def cron_can_fire(expression: str) -> bool:
    """Whether a valid cron expression matches any time at all (`0 0 31 2 *` never does). croniter looks a
    few years ahead, which covers every leap day and every weekday / month-day combination."""
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return False
    return True


def _trigger_rules(settings: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if settings["kind"] == "schedule":
        cron = settings.get("cron")
        if not cron:
            problems.append(("cron", "A schedule trigger needs at least one cron expression in 'cron'."))
    for index, expression in enumerate(settings.get("cron") or []):
        if not _is_five_field_cron(expression):
            problems.append(
                (
                    f"cron.{index}",
                    f"'{expression}' is not a valid 5-field cron expression (minute hour day month weekday).",
                )
            )
        elif not cron_can_fire(expression):
            problems.append(
                (f"cron.{index}", f"'{expression}' can never fire: no date matches its day and month.")
            )
    return problems


def _map_rules(settings: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for index, mapping in enumerate(settings["mappings"]):
        transform = mapping.get("transform", "none")
        if transform == "script" and mapping.get("script") is None:
            problems.append(
                (
                    f"mappings.{index}.script",
                    f"Mapping {index + 1} uses the 'script' transform but names no script.",
                )
            )
    return problems


def _route_rules(settings: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, route in enumerate(settings.get("routes") or []):
        label = route["label"]
        if label in seen:
            problems.append(
                (f"routes.{index}.label", f"Route label '{label}' is used by more than one route.")
            )
        seen.add(label)
    return problems


def _split_rules(settings: dict[str, Any]) -> list[Problem]:
    if settings.get("format") == "xml" and not settings.get("element"):
        return [("element", "An XML split needs the tag name of the elements to split on in 'element'.")]
    return []


WEBHOOK_RESPONSE = Object(
    description="How a webhook call is answered.",
    fields={
        "mode": Text(choices=("immediate", "final_payload"), default="immediate"),
        "timeout": Integer(minimum=1, maximum=300, default=30, description="Seconds (final_payload mode)."),
        "status": Integer(minimum=100, maximum=599, default=200),
        "body": Text(template=True),
        "format": Text(choices=("json", "xml", "text"), default="json"),
    },
)

CACHE_NAME = Text(min_length=1, max_length=200, description="Cache name.")
CACHE_SCOPE = Text(
    choices=("run", "flow", "global"),
    default="flow",
    description="Who shares the cache: this run, this flow, all.",
)
CACHE_KEY = Text(
    template=True, max_length=500, description="Key inside the cache (template); empty = one slot."
)

SHAPE_TYPES: dict[str, ShapeType] = {
    shape.type: shape
    for shape in (
        ShapeType(
            "trigger",
            "Trigger",
            "Starts the flow: manually or through the API, on a schedule, or from a webhook call.",
            Object(
                fields={
                    "kind": Text(choices=("manual", "schedule", "webhook")),
                    "cron": ListOf(item=Text(), description="5-field UTC cron expressions (schedule)."),
                    "response": WEBHOOK_RESPONSE,
                },
                required=("kind",),
            ),
            extra_rules=(_trigger_rules,),
        ),
        ShapeType(
            "connector",
            "Connector",
            "Calls an endpoint of a connector once per input payload.",
            Object(
                fields={
                    "connector": Reference(kind="connector"),
                    "endpoint": Reference(kind="endpoint", description="An endpoint of that connector."),
                    "variables": TemplateMap(),
                    "timeout": Number(minimum=0.1, maximum=3600, nullable=True, description="Seconds."),
                    "retries": Integer(minimum=0, maximum=10, default=0),
                    "retry_delay": Number(minimum=0, maximum=86400, nullable=True, description="Seconds."),
                    "response_script": Reference(kind="script", nullable=True),
                    "response_script_version": Integer(minimum=1, nullable=True),
                    "max_pages": Integer(minimum=1, maximum=1000, default=100),
                },
                required=("connector", "endpoint"),
            ),
        ),
        ShapeType(
            "script",
            "Script",
            "Runs a custom script on the payload.",
            Object(
                fields={
                    "script": Reference(kind="script"),
                    "version": Integer(
                        minimum=1, nullable=True, description="Pinned version; null = latest."
                    ),
                },
                required=("script",),
            ),
        ),
        ShapeType(
            "map",
            "Map",
            "Builds a JSON object from the input JSON.",
            Object(
                fields={
                    "mappings": ListOf(
                        min_items=1,
                        item=Object(
                            fields={
                                "source": Text(jmespath=True),
                                "target": Text(min_length=1, description="Dotted path in the output."),
                                "transform": Text(choices=TRANSFORMS, default="none"),
                                "default": AnyValue(),
                                "script": Reference(kind="script", nullable=True),
                                "version": Integer(minimum=1, nullable=True),
                            },
                            required=("target",),
                        ),
                    ),
                    "output": Text(choices=("new", "merge"), default="new"),
                },
                required=("mappings",),
            ),
            extra_rules=(_map_rules,),
        ),
        ShapeType(
            "filter",
            "Filter",
            "Passes the payloads that match the conditions and drops the others.",
            Object(
                fields={
                    "conditions": ListOf(item=CONDITION, min_items=1),
                    "match": MATCH,
                    "keep_matching": Boolean(default=True),
                },
                required=("conditions",),
            ),
        ),
        ShapeType(
            "route",
            "Route",
            "Sends each payload down the connections of the first matching route, or down all of them.",
            Object(
                fields={
                    "mode": Text(choices=("conditional", "parallel"), default="conditional"),
                    "routes": ListOf(
                        item=Object(
                            fields={
                                "label": Text(min_length=1),
                                "conditions": ListOf(item=CONDITION),
                                "match": MATCH,
                            },
                            required=("label",),
                        )
                    ),
                }
            ),
            connection_attribute="label",
            extra_rules=(_route_rules,),
        ),
        ShapeType(
            "branch",
            "Branch",
            "Runs its outgoing paths one after another, in the order of the connections (1-6).",
            Object(),
            connection_attribute="order",
        ),
        ShapeType(
            "split",
            "Split",
            "Emits one payload per element of a JSON list, line, CSV row or XML element.",
            Object(
                fields={
                    "format": Text(choices=("json", "lines", "csv", "xml"), default="json"),
                    "path": Text(jmespath=True, default="@"),
                    "header": Boolean(default=True),
                    "element": Text(description="XML tag name (required for xml)."),
                }
            ),
            extra_rules=(_split_rules,),
        ),
        ShapeType(
            "flow_control",
            "Flow control",
            "Batches the items of a list into payloads of `size` items.",
            Object(
                fields={
                    "size": Integer(minimum=1, maximum=10000),
                    "path": Text(jmespath=True, default="@"),
                },
                required=("size",),
            ),
        ),
        ShapeType(
            "set_variables",
            "Set variables",
            "Sets run-scoped flow variables or payload meta; the payload passes unchanged.",
            Object(
                fields={
                    "variables": ListOf(
                        min_items=1,
                        item=Object(
                            fields={
                                "name": Text(min_length=1),
                                "value": Text(template=True),
                                "scope": Text(choices=("flow", "meta"), default="flow"),
                            },
                            required=("name", "value"),
                        ),
                    )
                },
                required=("variables",),
            ),
        ),
        ShapeType(
            "notify",
            "Notify",
            "Writes a message to the run log, and optionally sends it by email.",
            Object(
                fields={
                    "message": Text(template=True, min_length=1),
                    "level": Text(choices=("info", "warning", "error"), default="info"),
                    "email": Object(
                        nullable=True,
                        fields={"to": ListOf(item=Email(), min_items=1), "subject": Text(template=True)},
                        required=("to",),
                    ),
                },
                required=("message",),
            ),
        ),
        ShapeType(
            "run_flow",
            "Run flow",
            "Queues a run of another flow with this payload as its input.",
            Object(
                fields={"flow": Reference(kind="flow"), "pass_payload": Boolean(default=True)},
                required=("flow",),
            ),
        ),
        ShapeType(
            "manual_payload",
            "Manual payload",
            "Replaces the payload with rendered text.",
            Object(
                fields={"payload": Text(template=True), "meta": TemplateMap()},
                required=("payload",),
            ),
        ),
        ShapeType(
            "assert",
            "Assert",
            "Fails the step with a message when the payload does not match.",
            Object(
                fields={
                    "conditions": ListOf(item=CONDITION, min_items=1),
                    "match": MATCH,
                    "message": Text(template=True),
                },
                required=("conditions",),
            ),
        ),
        ShapeType(
            "try_catch",
            "Try / catch",
            "Sends payloads down 'try'; a payload that fails there goes down 'catch'.",
            Object(fields={"partial_success": Boolean(default=True)}),
            connection_attribute="label",
        ),
        ShapeType(
            "cache_add",
            "Cache add",
            "Stores the payload in a named cache (this run, this flow or global); the payload passes on.",
            Object(
                fields={
                    "cache": CACHE_NAME,
                    "scope": CACHE_SCOPE,
                    "key": CACHE_KEY,
                    "mode": Text(
                        choices=("replace", "append"),
                        default="replace",
                        description="replace: the payload becomes the only entry; append: one entry more.",
                    ),
                    "ttl_hours": Number(
                        minimum=0.01, maximum=87600, default=24, description="Hours an entry is kept."
                    ),
                },
                required=("cache",),
            ),
        ),
        ShapeType(
            "cache_load",
            "Cache load",
            "Emits the payloads stored in a cache, one per entry, oldest first.",
            Object(
                fields={
                    "cache": CACHE_NAME,
                    "scope": CACHE_SCOPE,
                    "key": CACHE_KEY,
                    "missing": Text(
                        choices=("fail", "empty", "skip"),
                        default="fail",
                        description="Nothing stored: fail the step, emit an empty payload, or emit nothing.",
                    ),
                },
                required=("cache",),
            ),
        ),
        ShapeType(
            "dedupe",
            "De-dupe",
            "Drops the items (of a JSON array) or the payload whose key the pool has seen; records keys.",
            Object(
                fields={
                    "pool": Text(
                        min_length=1, max_length=200, description="De-dupe pool name (shared by flows)."
                    ),
                    "key_path": Text(
                        min_length=1,
                        jmespath=True,
                        description="JMESPath to the key in each item of a JSON array, or in the object.",
                    ),
                    "mode": Text(choices=("filter", "track", "filter_and_track"), default="filter_and_track"),
                    "retention_days": Integer(minimum=1, maximum=3650, default=90),
                },
                required=("pool", "key_path"),
            ),
        ),
    )
}


def shape_type_descriptions() -> list[dict[str, Any]]:
    """Every shape type with its settings as JSON Schema (served at /api/shape-types/)."""
    return [shape.describe() for shape in SHAPE_TYPES.values()]
