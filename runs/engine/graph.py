"""Read access to a deployed flow version's graph (DESIGN section 6)."""

from __future__ import annotations

from typing import Any


class Graph:
    def __init__(self, data: dict[str, Any]) -> None:
        self.shapes: dict[str, dict[str, Any]] = {str(s["id"]): s for s in data.get("shapes", [])}
        self.outgoing: dict[str, list[dict[str, Any]]] = {shape_id: [] for shape_id in self.shapes}
        for connection in data.get("connections", []):
            self.outgoing.setdefault(str(connection["source"]), []).append(connection)

    def shape(self, shape_id: str) -> dict[str, Any]:
        return self.shapes[shape_id]

    def settings(self, shape_id: str) -> dict[str, Any]:
        return dict(self.shapes[shape_id].get("settings") or {})

    def trigger_id(self) -> str:
        for shape_id, shape in self.shapes.items():
            if shape.get("type") == "trigger":
                return shape_id
        raise ValueError("The flow version has no trigger shape.")

    def is_last(self, shape_id: str) -> bool:
        return not self.outgoing.get(shape_id)

    def connections(self, shape_id: str, *, label: str | None = None, order: int | None = None) -> list[dict]:
        found = self.outgoing.get(shape_id, [])
        if label is not None:
            found = [c for c in found if c.get("label") == label]
        if order is not None:
            found = [c for c in found if _int(c.get("order")) == order]
        return found


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
