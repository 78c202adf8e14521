"""Validation of the flow graph JSON (DESIGN section 6, docs/shapes.md).

`structure_errors` is the cheap check a draft must pass to be saved at all; `validate_graph` is the full check
deploy runs (and the canvas shows): settings per shape type, graph shape, connection labels, references.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from typing import Any

from designer.graph.errors import GraphError, graph_error
from designer.graph.references import reference_errors
from designer.graph.shape_types import SHAPE_TYPES

MAX_BRANCHES = 6


def structure_errors(graph: Any) -> list[GraphError]:
    """Errors that make a graph unusable even as a draft: it must be an object with `shapes` and
    `connections` lists whose items are objects."""
    if not isinstance(graph, dict):
        return [graph_error(None, None, "The graph must be an object with 'shapes' and 'connections' lists.")]
    errors: list[GraphError] = []
    for key in ("shapes", "connections"):
        value = graph.get(key)
        if not isinstance(value, list):
            errors.append(graph_error(None, None, f"The graph needs a '{key}' list."))
        elif not all(isinstance(item, dict) for item in value):
            errors.append(graph_error(None, None, f"Every item of '{key}' must be an object."))
    return errors


def validate_graph(graph: Any, *, flow: Any = None) -> list[GraphError]:
    """Every problem of `graph`, in a stable order; an empty list means it can be deployed.

    `flow` (a designer Flow) is the flow the graph belongs to, so a run_flow shape calling that same flow is
    refused. Reads connectors, endpoints, scripts and flows; writes nothing.
    """
    errors = structure_errors(graph)
    if errors:
        return errors
    shapes: list[dict[str, Any]] = graph["shapes"]
    connections: list[dict[str, Any]] = graph["connections"]

    by_id: dict[str, dict[str, Any]] = {}
    for index, shape in enumerate(shapes):
        shape_id = shape.get("id")
        if not isinstance(shape_id, str) or not shape_id.strip():
            errors.append(graph_error(None, None, f"Shape {index + 1} needs a non-empty string 'id'."))
            continue
        if shape_id in by_id:
            continue
        by_id[shape_id] = shape
    for shape_id, count in Counter(s.get("id") for s in shapes if isinstance(s.get("id"), str)).items():
        if count > 1:
            errors.append(graph_error(shape_id, None, f"Shape id '{shape_id}' is used by {count} shapes."))

    for shape_id, shape in by_id.items():
        errors.extend(_shape_errors(shape_id, shape))

    triggers = [shape_id for shape_id, shape in by_id.items() if shape.get("type") == "trigger"]
    if not triggers:
        errors.append(graph_error(None, None, "The flow needs exactly one trigger shape; it has none."))
    for extra in triggers[1:]:
        listed = ", ".join(f"'{t}'" for t in triggers)
        errors.append(
            graph_error(
                extra, None, f"The flow needs exactly one trigger shape; it has {len(triggers)}: {listed}."
            )
        )

    edges = _connection_errors(connections, by_id, set(triggers), errors)
    errors.extend(_cycle_errors(list(by_id), edges))
    if len(triggers) == 1:
        reachable = _reachable(triggers[0], edges)
        errors.extend(
            graph_error(shape_id, None, f"Shape '{shape_id}' is not reachable from the trigger.")
            for shape_id in by_id
            if shape_id not in reachable
        )
    errors.extend(reference_errors(by_id, flow))
    return errors


def _shape_errors(shape_id: str, shape: dict[str, Any]) -> list[GraphError]:
    errors: list[GraphError] = []
    type_name = shape.get("type")
    shape_type = SHAPE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if shape_type is None:
        known = ", ".join(SHAPE_TYPES)
        errors.append(
            graph_error(
                shape_id, None, f"Shape '{shape_id}' has unknown type {shape.get('type')!r} ({known})."
            )
        )
        return errors
    if "name" in shape and not isinstance(shape["name"], str):
        errors.append(graph_error(shape_id, None, f"Shape '{shape_id}' needs a string 'name'."))
    position = shape.get("position")
    if "position" in shape and not (
        isinstance(position, dict)
        and all(
            isinstance(position.get(axis), (int, float)) and not isinstance(position.get(axis), bool)
            for axis in ("x", "y")
        )
    ):
        errors.append(
            graph_error(shape_id, None, f"Shape '{shape_id}' needs a 'position' with numbers x and y.")
        )
    for setting, message in shape_type.check_settings(shape.get("settings", {})):
        errors.append(graph_error(shape_id, setting or None, message))
    return errors


def _link(source: str, target: str) -> str:
    return f"Connection from '{source}' to '{target}'"


def _hashable(value: Any) -> Any:
    """Label / order as a set key; malformed ones (lists, objects) are reported elsewhere."""
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _connection_errors(
    connections: list[dict[str, Any]],
    by_id: dict[str, dict[str, Any]],
    triggers: set[str],
    errors: list[GraphError],
) -> dict[str, list[str]]:
    """Checks every connection, appending to `errors`; returns the usable edges (source -> targets)."""
    edges: dict[str, list[str]] = defaultdict(list)
    seen: set[tuple[str, str, Any, Any]] = set()
    outgoing: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index, connection in enumerate(connections):
        source, target = connection.get("source"), connection.get("target")
        if not isinstance(source, str) or not isinstance(target, str):
            errors.append(
                graph_error(
                    None, None, f"Connection {index + 1} needs string 'source' and 'target' shape ids."
                )
            )
            continue
        missing = [end for end in (source, target) if end not in by_id]
        if missing:
            known_end = source if source in by_id else (target if target in by_id else None)
            unknown = " and ".join(f"'{m}'" for m in dict.fromkeys(missing))
            errors.append(
                graph_error(
                    known_end,
                    None,
                    f"Connection from '{source}' to '{target}' points to unknown shape {unknown}.",
                )
            )
            continue
        if source == target:
            errors.append(graph_error(source, None, f"Shape '{source}' is connected to itself."))
            continue
        key = (source, target, _hashable(connection.get("label") or None), _hashable(connection.get("order")))
        if key in seen:
            errors.append(
                graph_error(source, None, f"Connection from '{source}' to '{target}' appears more than once.")
            )
            continue
        seen.add(key)
        if target in triggers:
            errors.append(
                graph_error(
                    target,
                    None,
                    f"The trigger '{target}' cannot have incoming connections; '{source}' connects to it.",
                )
            )
            continue
        edges[source].append(target)
        outgoing[source].append(connection)

    for source, items in outgoing.items():
        errors.extend(_outgoing_errors(source, by_id[source], items))
    return edges


def _outgoing_errors(
    source: str, shape: dict[str, Any], connections: list[dict[str, Any]]
) -> list[GraphError]:
    """Route labels, branch orders and try / catch labels of a shape's outgoing connections."""
    errors: list[GraphError] = []
    shape_type = shape.get("type")
    settings = shape.get("settings") if isinstance(shape.get("settings"), dict) else {}
    assert isinstance(settings, dict)

    def fail(message: str) -> None:
        errors.append(graph_error(source, None, message))

    if shape_type == "route":
        routes = settings.get("routes")
        labels = [r.get("label") for r in routes if isinstance(r, dict)] if isinstance(routes, list) else []
        conditional = settings.get("mode", "conditional") == "conditional"
        for connection in connections:
            label, target = connection.get("label"), connection["target"]
            if _present(connection.get("order")):
                fail(f"{_link(source, target)} carries an 'order'; route connections use labels.")
            if not _present(label):
                if conditional and labels:
                    listed = ", ".join(f"'{x}'" for x in labels)
                    fail(f"Connection from '{source}' to '{target}' needs the label of a route ({listed}).")
            elif label not in labels:
                listed = ", ".join(f"'{x}'" for x in labels) or "none defined"
                fail(
                    f"Connection from '{source}' to '{target}' is labelled {label!r}, "
                    f"which is not a route of '{source}' (routes: {listed})."
                )
    elif shape_type == "branch":
        if len(connections) > MAX_BRANCHES:
            fail(
                f"Branch '{source}' has {len(connections)} outgoing connections; "
                f"at most {MAX_BRANCHES} are allowed."
            )
        orders: Counter[int] = Counter()
        for connection in connections:
            order, target = connection.get("order"), connection["target"]
            if _present(connection.get("label")):
                fail(f"{_link(source, target)} carries a label; branch connections use 'order'.")
            if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_BRANCHES:
                fail(f"Connection from '{source}' to '{target}' needs an 'order' from 1 to {MAX_BRANCHES}.")
            else:
                orders[order] += 1
        for order, count in sorted(orders.items()):
            if count > 1:
                fail(f"Branch order {order} of '{source}' is used by {count} connections.")
    elif shape_type == "try_catch":
        for connection in connections:
            label, target = connection.get("label"), connection["target"]
            if label not in ("try", "catch"):
                fail(f"{_link(source, target)} must be labelled 'try' or 'catch'; got {label!r}.")
        if not any(c.get("label") == "try" for c in connections):
            fail(f"Try / catch '{source}' needs at least one outgoing connection labelled 'try'.")
    else:
        for connection in connections:
            target = connection["target"]
            if _present(connection.get("label")) or _present(connection.get("order")):
                fail(
                    f"Connection from '{source}' to '{target}' carries a label or order; only route, branch "
                    "and try / catch connections do."
                )
    if shape_type == "try_catch" and not connections:
        fail(f"Try / catch '{source}' needs at least one outgoing connection labelled 'try'.")
    return errors


def _cycle_errors(shape_ids: list[str], edges: dict[str, list[str]]) -> list[GraphError]:
    """One error per strongly connected component of more than one shape (Tarjan, iterative)."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in shape_ids:
        if root in index_of:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index_of[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = edges.get(node, [])
            if child_index < len(children):
                work.append((node, child_index + 1))
                child = children[child_index]
                if child not in index_of:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index_of[child])
                continue
            if low[node] == index_of[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    position = {shape_id: i for i, shape_id in enumerate(shape_ids)}
    errors = []
    for component in components:
        ordered = sorted(component, key=position.__getitem__)
        listed = ", ".join(f"'{s}'" for s in ordered)
        errors.append(graph_error(ordered[0], None, f"Shapes {listed} form a cycle."))
    return sorted(errors, key=lambda e: position[e["shape"]])  # type: ignore[index]


def _reachable(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for child in edges.get(queue.popleft(), []):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return seen
