/**
 * Pure functions over the flow graph JSON (DESIGN section 6): connection rules, client-side validation,
 * copy / paste, removal and the auto-layout input. No React, no network: unit-tested in graph.test.ts.
 */
import type { Connection, FlowGraph, GraphError, Shape, ShapeType } from "../shapes/types";
import { SHAPES } from "../shapes";
import type { ShapeDefinition } from "../shapes";

export const MAX_BRANCHES = 6;

/** What an outgoing connection of a shape of this type carries. */
export function connectionKind(type: ShapeType): "label" | "order" | "plain" {
  return SHAPES[type].connection;
}

export function shapeById(graph: FlowGraph, id: string): Shape | undefined {
  return graph.shapes.find((shape) => shape.id === id);
}

/** A readable id unique in the graph: `connector`, `connector-2`, ... */
export function newShapeId(type: ShapeType, existing: Iterable<string>): string {
  const taken = new Set(existing);
  if (!taken.has(type)) return type;
  for (let n = 2; ; n += 1) {
    const candidate = `${type}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function defaultShapeName(type: ShapeType): string {
  return SHAPES[type].label;
}

export function createShape(
  type: ShapeType,
  position: { x: number; y: number },
  existing: Iterable<string>,
): Shape {
  return {
    id: newShapeId(type, existing),
    type,
    name: SHAPES[type].label,
    position: { x: Math.round(position.x), y: Math.round(position.y) },
    settings: SHAPES[type].defaults(),
  } as Shape;
}

/** Would `source -> target` close a cycle? (true when target already reaches source) */
export function createsCycle(graph: FlowGraph, source: string, target: string): boolean {
  if (source === target) return true;
  const outgoing = adjacency(graph);
  const seen = new Set<string>();
  const stack = [target];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (id === source) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const next of outgoing.get(id) ?? []) stack.push(next);
  }
  return false;
}

/** Why `source -> target` may not be drawn, or null when it may. */
export function connectionProblem(graph: FlowGraph, source: string, target: string): string | null {
  const from = shapeById(graph, source);
  const to = shapeById(graph, target);
  if (!from || !to) return "Both ends must be shapes of this flow.";
  if (source === target) return "A shape cannot connect to itself.";
  if (to.type === "trigger") return "The trigger cannot have incoming connections.";
  if (graph.connections.some((c) => c.source === source && c.target === target)) {
    return "These shapes are already connected.";
  }
  if (from.type === "branch") {
    const count = graph.connections.filter((c) => c.source === source).length;
    if (count >= MAX_BRANCHES) return `A branch has at most ${MAX_BRANCHES} outgoing connections.`;
  }
  if (createsCycle(graph, source, target)) return "That connection would create a cycle.";
  return null;
}

/** The label / order a new outgoing connection of `source` gets: the first free route, branch or try/catch slot. */
export function nextConnectionAttributes(
  graph: FlowGraph,
  source: string,
): Pick<Connection, "label" | "order"> {
  const from = shapeById(graph, source);
  if (!from) return {};
  const outgoing = graph.connections.filter((c) => c.source === source);
  if (from.type === "branch") {
    const used = new Set(outgoing.map((c) => c.order));
    for (let order = 1; order <= MAX_BRANCHES; order += 1) {
      if (!used.has(order)) return { order };
    }
    return { order: MAX_BRANCHES };
  }
  if (from.type === "try_catch") {
    return { label: outgoing.some((c) => c.label === "try") ? "catch" : "try" };
  }
  if (from.type === "route") {
    const labels = from.settings.routes.map((route) => route.label);
    const used = new Set(outgoing.map((c) => c.label));
    const free = labels.find((label) => !used.has(label));
    const label = free ?? labels[0];
    return label === undefined ? {} : { label };
  }
  return {};
}

/** The text shown on a connection: its route / try-catch label or its branch order. */
export function connectionCaption(connection: Connection): string | undefined {
  if (connection.label !== undefined && connection.label !== "") return connection.label;
  if (connection.order !== undefined) return `#${connection.order}`;
  return undefined;
}

function adjacency(graph: FlowGraph): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const c of graph.connections) {
    const list = map.get(c.source);
    if (list) list.push(c.target);
    else map.set(c.source, [c.target]);
  }
  return map;
}

/** The problems the shape's own kind finds in its settings (`validate` of its registry entry). */
function settingErrors(shape: Shape): GraphError[] {
  const errors: GraphError[] = [];
  const definition = SHAPES[shape.type] as ShapeDefinition<Shape["type"]>;
  definition.validate?.(shape.settings, (setting, message) => {
    errors.push({ shape: shape.id, setting, message });
  });
  return errors;
}

/**
 * Client-side validation: the same rules the server applies to structure and required settings, so the
 * canvas can flag problems before a deploy. The server stays the authority (references, scripts).
 */
export function validateGraph(graph: FlowGraph): GraphError[] {
  const errors: GraphError[] = [];
  const ids = new Set<string>();
  for (const shape of graph.shapes) {
    if (ids.has(shape.id)) errors.push({ shape: shape.id, setting: null, message: "Duplicate shape id." });
    ids.add(shape.id);
  }
  const triggers = graph.shapes.filter((shape) => shape.type === "trigger");
  if (triggers.length === 0)
    errors.push({ shape: null, setting: null, message: "The flow needs a trigger." });
  if (triggers.length > 1) {
    for (const trigger of triggers.slice(1)) {
      errors.push({ shape: trigger.id, setting: null, message: "A flow has exactly one trigger." });
    }
  }
  const seenConnections = new Set<string>();
  for (const c of graph.connections) {
    if (!ids.has(c.source) || !ids.has(c.target)) {
      errors.push({
        shape: ids.has(c.source) ? c.source : null,
        setting: null,
        message: `Connection ${c.source} -> ${c.target} points to a missing shape.`,
      });
      continue;
    }
    const key = `${c.source}->${c.target}`;
    if (seenConnections.has(key)) {
      errors.push({ shape: c.source, setting: null, message: `Duplicate connection to ${c.target}.` });
    }
    seenConnections.add(key);
    const target = shapeById(graph, c.target);
    if (target?.type === "trigger") {
      errors.push({
        shape: c.target,
        setting: null,
        message: "The trigger cannot have incoming connections.",
      });
    }
  }
  for (const shape of graph.shapes) {
    const outgoing = graph.connections.filter((c) => c.source === shape.id);
    if (shape.type === "branch") {
      if (outgoing.length > MAX_BRANCHES) {
        errors.push({ shape: shape.id, setting: null, message: `At most ${MAX_BRANCHES} branches.` });
      }
      const orders = outgoing.map((c) => c.order);
      if (orders.some((o) => o === undefined || o < 1 || o > MAX_BRANCHES)) {
        errors.push({
          shape: shape.id,
          setting: null,
          message: "Every branch connection needs an order 1-6.",
        });
      } else if (new Set(orders).size !== orders.length) {
        errors.push({ shape: shape.id, setting: null, message: "Branch orders must be unique." });
      }
    }
    if (shape.type === "route" && shape.settings.mode === "conditional" && shape.settings.routes.length > 0) {
      const labels = new Set(shape.settings.routes.map((r) => r.label));
      for (const c of outgoing) {
        if (c.label === undefined || !labels.has(c.label)) {
          errors.push({
            shape: shape.id,
            setting: "routes",
            message: `The connection to ${c.target} must be labelled with one of the routes.`,
          });
        }
      }
    }
    if (shape.type === "try_catch") {
      if (!outgoing.some((c) => c.label === "try")) {
        errors.push({ shape: shape.id, setting: null, message: "A try / catch needs a 'try' connection." });
      }
      for (const c of outgoing) {
        if (c.label !== "try" && c.label !== "catch") {
          errors.push({
            shape: shape.id,
            setting: null,
            message: "Label try / catch connections 'try' or 'catch'.",
          });
        }
      }
    }
    errors.push(...settingErrors(shape));
  }
  const cyclic = findCycleShapes(graph);
  if (cyclic.length > 0) {
    errors.push({ shape: cyclic[0] ?? null, setting: null, message: `Cycle through ${cyclic.join(", ")}.` });
  }
  if (triggers.length === 1 && triggers[0]) {
    const reached = reachableFrom(graph, triggers[0].id);
    for (const shape of graph.shapes) {
      if (!reached.has(shape.id)) {
        errors.push({ shape: shape.id, setting: null, message: "Not reachable from the trigger." });
      }
    }
  }
  return errors;
}

export function reachableFrom(graph: FlowGraph, start: string): Set<string> {
  const outgoing = adjacency(graph);
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const next of outgoing.get(id) ?? []) stack.push(next);
  }
  return seen;
}

/** Shapes on some cycle (empty when the graph is acyclic), via Kahn's algorithm. */
export function findCycleShapes(graph: FlowGraph): string[] {
  const ids = graph.shapes.map((s) => s.id);
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]));
  const outgoing = adjacency(graph);
  for (const c of graph.connections) {
    if (indegree.has(c.target) && indegree.has(c.source))
      indegree.set(c.target, (indegree.get(c.target) ?? 0) + 1);
  }
  const queue = ids.filter((id) => indegree.get(id) === 0);
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const next of outgoing.get(id) ?? []) {
      if (!indegree.has(next)) continue;
      const left = (indegree.get(next) ?? 0) - 1;
      indegree.set(next, left);
      if (left === 0) queue.push(next);
    }
  }
  return ids.filter((id) => (indegree.get(id) ?? 0) > 0);
}

/** Errors grouped by shape id; graph-level errors (shape null) under the empty string. */
export function errorsByShape(errors: GraphError[]): Map<string, GraphError[]> {
  const map = new Map<string, GraphError[]>();
  for (const error of errors) {
    const key = error.shape ?? "";
    const list = map.get(key);
    if (list) list.push(error);
    else map.set(key, [error]);
  }
  return map;
}

/** Remove shapes and every connection touching them. */
export function removeShapes(graph: FlowGraph, ids: Iterable<string>): FlowGraph {
  const gone = new Set(ids);
  return {
    shapes: graph.shapes.filter((s) => !gone.has(s.id)),
    connections: graph.connections.filter((c) => !gone.has(c.source) && !gone.has(c.target)),
  };
}

/** The selected shapes and the connections between them, as a clipboard fragment. */
export function copyFragment(graph: FlowGraph, ids: Iterable<string>): FlowGraph {
  const picked = new Set(ids);
  return {
    shapes: graph.shapes.filter((s) => picked.has(s.id)).map((s) => structuredClone(s)),
    connections: graph.connections
      .filter((c) => picked.has(c.source) && picked.has(c.target))
      .map((c) => ({ ...c })),
  };
}

/**
 * Paste a fragment into a graph: shapes get fresh ids (a second trigger is left out), positions move by
 * `offset`, connections are remapped. Returns the new graph and the ids of the pasted shapes.
 */
export function pasteFragment(
  graph: FlowGraph,
  fragment: FlowGraph,
  offset: { x: number; y: number },
): { graph: FlowGraph; pasted: string[] } {
  const taken = new Set(graph.shapes.map((s) => s.id));
  const hasTrigger = graph.shapes.some((s) => s.type === "trigger");
  const idMap = new Map<string, string>();
  const shapes: Shape[] = [];
  for (const shape of fragment.shapes) {
    if (shape.type === "trigger" && hasTrigger) continue;
    const id = newShapeId(shape.type, taken);
    taken.add(id);
    idMap.set(shape.id, id);
    shapes.push({
      ...structuredClone(shape),
      id,
      position: { x: shape.position.x + offset.x, y: shape.position.y + offset.y },
    } as Shape);
  }
  const connections: Connection[] = [];
  for (const c of fragment.connections) {
    const source = idMap.get(c.source);
    const target = idMap.get(c.target);
    if (source !== undefined && target !== undefined) connections.push({ ...c, source, target });
  }
  return {
    graph: { shapes: [...graph.shapes, ...shapes], connections: [...graph.connections, ...connections] },
    pasted: shapes.map((s) => s.id),
  };
}

/** The box a shape takes on the canvas (200 x 64 plus the 10 px padding of its node wrapper). */
export const SHAPE_WIDTH = 220;
export const SHAPE_HEIGHT = 84;

export interface LayoutInput {
  nodes: { id: string; width: number; height: number }[];
  edges: { source: string; target: string; weight: number }[];
}

/**
 * What the layout engine (dagre) gets: every shape with its box and every connection, ordered so
 * branch orders and route / try-catch labels keep a stable top-to-bottom order.
 */
export function layoutInput(graph: FlowGraph): LayoutInput {
  const rank = (c: Connection): number => {
    if (c.order !== undefined) return c.order;
    if (c.label === "try") return 0;
    if (c.label === "catch") return 1;
    const source = shapeById(graph, c.source);
    if (source?.type === "route" && c.label !== undefined) {
      const index = source.settings.routes.findIndex((r) => r.label === c.label);
      return index < 0 ? 99 : index;
    }
    return 0;
  };
  const edges = graph.connections
    .filter((c) => graph.shapes.some((s) => s.id === c.source) && graph.shapes.some((s) => s.id === c.target))
    .map((c, index) => ({ c, index }))
    .sort((a, b) => (a.c.source === b.c.source ? rank(a.c) - rank(b.c) : a.index - b.index))
    .map(({ c }) => ({ source: c.source, target: c.target, weight: c.source.startsWith("trigger") ? 2 : 1 }));
  return {
    nodes: graph.shapes.map((s) => ({ id: s.id, width: SHAPE_WIDTH, height: SHAPE_HEIGHT })),
    edges,
  };
}

/** Move shapes to laid-out positions (top-left corners); shapes without one keep theirs. */
export function applyPositions(
  graph: FlowGraph,
  positions: Map<string, { x: number; y: number }>,
): FlowGraph {
  return {
    ...graph,
    shapes: graph.shapes.map((s) => {
      const p = positions.get(s.id);
      return p ? ({ ...s, position: { x: Math.round(p.x), y: Math.round(p.y) } } as Shape) : s;
    }),
  };
}

/**
 * The viewport that fits every shape into a `width` x `height` pane (what fit view would do), computed from
 * the known shape size so the canvas can open at it without a second render.
 */
export function fitViewport(
  graph: FlowGraph,
  width: number,
  height: number,
  options: { padding?: number; minZoom?: number; maxZoom?: number } = {},
): { x: number; y: number; zoom: number } {
  const padding = options.padding ?? 0.1;
  const minZoom = options.minZoom ?? 0.1;
  const maxZoom = options.maxZoom ?? 1.2;
  if (graph.shapes.length === 0 || width <= 0 || height <= 0) return { x: 0, y: 0, zoom: 1 };
  const xs = graph.shapes.map((s) => s.position.x);
  const ys = graph.shapes.map((s) => s.position.y);
  const left = Math.min(...xs);
  const top = Math.min(...ys);
  const boxWidth = Math.max(...xs) + SHAPE_WIDTH - left;
  const boxHeight = Math.max(...ys) + SHAPE_HEIGHT - top;
  const zoom = Math.min(
    maxZoom,
    Math.max(
      minZoom,
      Math.min(width / (boxWidth * (1 + 2 * padding)), height / (boxHeight * (1 + 2 * padding))),
    ),
  );
  return {
    x: (width - boxWidth * zoom) / 2 - left * zoom,
    y: (height - boxHeight * zoom) / 2 - top * zoom,
    zoom,
  };
}
