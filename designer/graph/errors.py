"""The one error item graph validation produces (docs/shapes.md, "Validation errors")."""

from __future__ import annotations

from typing import TypedDict


class GraphError(TypedDict):
    """`shape` is the shape id (None for graph-level errors), `setting` the dotted setting path or None."""

    shape: str | None
    setting: str | None
    message: str


def graph_error(shape: str | None, setting: str | None, message: str) -> GraphError:
    return {"shape": shape, "setting": setting, "message": message}
