"""The flow graph: its shape types, their settings schema and its validation (docs/shapes.md).

`validate_graph(graph, *, flow=None) -> list[GraphError]` is the one entry point the API, the run engine and
deploy use; `shape_type_descriptions()` is the JSON Schema the canvas reads.
"""

from designer.graph.errors import GraphError, graph_error
from designer.graph.shape_types import SHAPE_TYPES, shape_type_descriptions
from designer.graph.validation import structure_errors, validate_graph

__all__ = [
    "SHAPE_TYPES",
    "GraphError",
    "graph_error",
    "shape_type_descriptions",
    "structure_errors",
    "validate_graph",
]
