/**
 * Flow graph JSON <-> canvas elements. `parseGraph` turns whatever the server sent into a typed graph
 * (unknown settings keys kept, missing ones filled with defaults); `toElements` / `fromElements` convert
 * between that graph and the @xyflow/react nodes and edges the canvas renders.
 */
import type { Edge, Node } from "@xyflow/react";
import { isShapeType, SHAPES } from "../shapes";
import type { Connection, FlowGraph, GraphError, Shape } from "../shapes/types";
import { connectionCaption } from "./graph";

export type RunOverlay = { status: string; payloads: number };

export type ShapeNodeData = {
  shape: Shape;
  errors: GraphError[];
  overlay: RunOverlay | null;
};
export type ShapeNode = Node<ShapeNodeData, "shape">;

export type ConnectionEdgeData = { label?: string; order?: number };
export type ConnectionEdge = Edge<ConnectionEdgeData>;

export class GraphParseError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parse the graph JSON of a flow version. Throws GraphParseError with a readable message. */
export function parseGraph(raw: unknown): FlowGraph {
  if (!isRecord(raw)) throw new GraphParseError("The flow graph must be an object.");
  const rawShapes = raw.shapes ?? [];
  const rawConnections = raw.connections ?? [];
  if (!Array.isArray(rawShapes)) throw new GraphParseError("`shapes` must be a list.");
  if (!Array.isArray(rawConnections)) throw new GraphParseError("`connections` must be a list.");
  const shapes: Shape[] = rawShapes.map((item: unknown, index: number) => {
    if (!isRecord(item)) throw new GraphParseError(`Shape ${index + 1} is not an object.`);
    const { id, type, name, position, settings } = item;
    if (typeof id !== "string" || id === "") throw new GraphParseError(`Shape ${index + 1} has no id.`);
    if (!isShapeType(type)) throw new GraphParseError(`Shape ${id} has an unknown type ${String(type)}.`);
    const pos = isRecord(position) ? position : {};
    const base = SHAPES[type].defaults() as Record<string, unknown>;
    const given = isRecord(settings) ? settings : {};
    // The trigger's settings depend on its kind: do not mix defaults of another kind in.
    const merged: Record<string, unknown> =
      type === "trigger" ? { ...given, kind: given.kind ?? "manual" } : { ...base, ...given };
    if (type === "trigger" && merged.kind === "schedule" && !Array.isArray(merged.cron)) merged.cron = [];
    return {
      id,
      type,
      name: typeof name === "string" ? name : id,
      position: { x: Number(pos.x ?? 0) || 0, y: Number(pos.y ?? 0) || 0 },
      settings: merged,
    } as Shape;
  });
  const connections: Connection[] = rawConnections.map((item: unknown, index: number) => {
    if (!isRecord(item) || typeof item.source !== "string" || typeof item.target !== "string") {
      throw new GraphParseError(`Connection ${index + 1} needs a source and a target.`);
    }
    const connection: Connection = { source: item.source, target: item.target };
    if (typeof item.label === "string") connection.label = item.label;
    if (typeof item.order === "number") connection.order = item.order;
    return connection;
  });
  return { shapes, connections };
}

export function edgeId(connection: Pick<Connection, "source" | "target">): string {
  return `${connection.source}->${connection.target}`;
}

export function toEdge(connection: Connection): ConnectionEdge {
  const data: ConnectionEdgeData = {};
  if (connection.label !== undefined) data.label = connection.label;
  if (connection.order !== undefined) data.order = connection.order;
  const caption = connectionCaption(connection);
  return {
    id: edgeId(connection),
    source: connection.source,
    target: connection.target,
    data,
    ...(caption !== undefined ? { label: caption } : {}),
  };
}

export function toNode(
  shape: Shape,
  errors: GraphError[] = [],
  overlay: RunOverlay | null = null,
): ShapeNode {
  return {
    id: shape.id,
    type: "shape",
    position: { ...shape.position },
    data: { shape, errors, overlay },
  };
}

/** Graph -> canvas nodes and edges; `errors` are attached to the shapes they name. */
export function toElements(
  graph: FlowGraph,
  errors: GraphError[] = [],
): { nodes: ShapeNode[]; edges: ConnectionEdge[] } {
  const byShape = new Map<string, GraphError[]>();
  for (const error of errors) {
    if (error.shape === null) continue;
    byShape.set(error.shape, [...(byShape.get(error.shape) ?? []), error]);
  }
  return {
    nodes: graph.shapes.map((shape) => toNode(shape, byShape.get(shape.id) ?? [])),
    edges: graph.connections.map(toEdge),
  };
}

/** Canvas nodes and edges -> graph JSON (positions rounded, canvas-only state dropped). */
export function fromElements(nodes: ShapeNode[], edges: ConnectionEdge[]): FlowGraph {
  return {
    shapes: nodes.map(
      (node) =>
        ({
          id: node.id,
          type: node.data.shape.type,
          name: node.data.shape.name,
          position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
          settings: node.data.shape.settings,
        }) as Shape,
    ),
    connections: edges.map((edge) => {
      const connection: Connection = { source: edge.source, target: edge.target };
      if (edge.data?.label !== undefined) connection.label = edge.data.label;
      if (edge.data?.order !== undefined) connection.order = edge.data.order;
      return connection;
    }),
  };
}

/** Stable JSON for comparing graphs (dirty checks, undo dedupe). */
export function graphKey(graph: FlowGraph): string {
  return JSON.stringify(graph);
}
