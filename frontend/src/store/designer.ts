/**
 * The designer's one store: the canvas elements, undo / redo, clipboard, server validation errors and the
 * live run overlay. Every graph edit goes through a typed action that records an undo snapshot.
 */
import { applyEdgeChanges, applyNodeChanges } from "@xyflow/react";
import type { EdgeChange, NodeChange } from "@xyflow/react";
import { create } from "zustand";
import {
  connectionProblem,
  copyFragment,
  createShape,
  nextConnectionAttributes,
  pasteFragment,
  reachableFrom,
  removeShapes,
  validateGraph,
} from "../lib/graph";
import { createHistory, record, redo, undo } from "../lib/history";
import type { History } from "../lib/history";
import { autoLayout } from "../lib/layout";
import { spotAfter } from "../lib/placement";
import type { ConnectionEdge, RunOverlay, ShapeNode } from "../lib/serialize";
import { fromElements, graphKey, toEdge, toElements } from "../lib/serialize";
import type { Connection, FlowGraph, GraphError, Shape, ShapeType } from "../shapes/types";

export interface DesignerState {
  flowId: number | null;
  nodes: ShapeNode[];
  edges: ConnectionEdge[];
  history: History<FlowGraph>;
  /** Bumped on every graph change; autosave watches it. */
  revision: number;
  savedKey: string;
  /** The problems shown: the server's for what it checked, the client rules' for what changed since. */
  errors: GraphError[];
  /** The server's last answer and, per shape id, what each shape was when the server checked it. */
  serverErrors: GraphError[];
  serverChecked: Record<string, string>;
  clipboard: FlowGraph | null;
  overlay: Record<string, RunOverlay>;
  overlayRun: number | null;
  /**
   * What the overlaid run runs, when that is not the canvas: shape id -> shapeRunKey of the running version's
   * shapes. Only canvas shapes with the same id, type and settings get a live status (null: every shape).
   */
  overlayScope: Record<string, string> | null;
  notice: string | null;

  load: (flowId: number, graph: FlowGraph) => void;
  markSaved: (graph: FlowGraph) => void;
  graph: () => FlowGraph;
  onNodesChange: (changes: NodeChange<ShapeNode>[]) => void;
  onEdgesChange: (changes: EdgeChange<ConnectionEdge>[]) => void;
  connect: (source: string, target: string) => boolean;
  addShape: (type: ShapeType, position: { x: number; y: number }) => string;
  updateShape: (id: string, patch: { name?: string; settings?: Shape["settings"] }) => void;
  updateConnection: (edgeId: string, patch: Pick<Connection, "label" | "order">) => void;
  deleteSelection: () => void;
  copySelection: () => void;
  paste: () => void;
  undo: () => void;
  redo: () => void;
  layout: () => void;
  selectOnly: (id: string | null) => void;
  /** Select every shape (Ctrl+A). */
  selectAll: () => void;
  /** Add a `type` shape after the one selected shape (right of it, on a free spot) and connect it from
   * there when that connection is allowed; without one selected, on a free spot near `fallback`.
   * Returns the new shape's id ("" when refused). */
  insertAfterSelection: (type: ShapeType, fallback: { x: number; y: number }) => string;
  /** The server's problems for `checked` (default: the canvas now); edits since get the client rules. */
  setErrors: (errors: GraphError[], checked?: FlowGraph) => void;
  setOverlay: (runId: number | null, overlay: Record<string, RunOverlay>) => void;
  setOverlayScope: (scope: Record<string, string> | null) => void;
  setNotice: (notice: string | null) => void;
}

/** What makes a shape run the same: its type and settings (not its name or position). */
export function shapeRunKey(shape: Pick<Shape, "type" | "settings">): string {
  return JSON.stringify([shape.type, shape.settings]);
}

const runKeys = new WeakMap<Shape, string>();
const runKeyOf = (shape: Shape): string => {
  let key = runKeys.get(shape);
  if (key === undefined) {
    key = shapeRunKey(shape);
    runKeys.set(shape, key);
  }
  return key;
};

/** Whether the overlaid run ran this canvas shape (see `overlayScope`). */
export function ranOnCanvas(shape: Shape, scope: Record<string, string> | null): boolean {
  return scope === null || scope[shape.id] === runKeyOf(shape);
}

/**
 * Per shape: what its validation depends on: type, settings, its connections both ways and whether the
 * trigger reaches it (connecting a shape, or one before it, changes that without touching the shape, and
 * the server's "not reachable" on it must not outlive the edit).
 */
function checkKeys(graph: FlowGraph): Record<string, string> {
  const outgoing = new Map<string, Connection[]>();
  const incoming = new Map<string, Connection[]>();
  for (const c of graph.connections) {
    outgoing.set(c.source, [...(outgoing.get(c.source) ?? []), c]);
    incoming.set(c.target, [...(incoming.get(c.target) ?? []), c]);
  }
  const triggers = graph.shapes.filter((s) => s.type === "trigger");
  const reached = triggers.length === 1 && triggers[0] ? reachableFrom(graph, triggers[0].id) : null;
  const keys: Record<string, string> = {};
  for (const shape of graph.shapes) {
    keys[shape.id] = JSON.stringify([
      shape.type,
      shape.settings,
      outgoing.get(shape.id) ?? [],
      incoming.get(shape.id) ?? [],
      reached === null ? null : reached.has(shape.id),
    ]);
  }
  return keys;
}

/** The top-level setting a problem is about: "variables.order_id" and "routes[0].label" are "variables", "routes". */
const topSetting = (path: string): string => path.split(/[.[]/, 1)[0] ?? path;

/**
 * Whether the server's problem `error` about one setting of an edited shape still holds as far as the edit
 * goes: same type and that setting's value as when the server checked (`then` and `now` are check keys).
 * Editing a connector shape's timeout then keeps the server's "connector 9 does not exist" on it instead of
 * dropping it until the autosave answers; a problem about the shape as a whole (no setting) goes.
 */
function settingUnchanged(error: GraphError, then: string | undefined, now: string | undefined): boolean {
  if (error.setting === null || then === undefined || now === undefined) return false;
  const [typeThen, settingsThen] = JSON.parse(then) as [string, Record<string, unknown>];
  const [typeNow, settingsNow] = JSON.parse(now) as [string, Record<string, unknown>];
  const key = topSetting(error.setting);
  return typeThen === typeNow && JSON.stringify(settingsThen[key]) === JSON.stringify(settingsNow[key]);
}

/**
 * The problems to show for `graph`: the server's on shapes unchanged since it checked them, the client rules'
 * (the shape registry's validate and the structure rules) on shapes changed since, and graph-wide ones of both.
 */
export function mergeErrors(
  graph: FlowGraph,
  serverErrors: GraphError[],
  serverChecked: Record<string, string>,
): GraphError[] {
  const now = checkKeys(graph);
  const changed = (id: string): boolean => serverChecked[id] !== now[id];
  const anyChanged = Object.keys(now).some(changed) || Object.keys(serverChecked).some((id) => !(id in now));
  if (!anyChanged) return serverErrors;
  const client = validateGraph(graph);
  // Where the client rules speak about a setting, their words replace the server's (no problem twice).
  const clientSettings = new Set(
    client.filter((e) => e.setting !== null).map((e) => `${e.shape}|${topSetting(e.setting ?? "")}`),
  );
  const kept = (e: GraphError & { shape: string }): boolean =>
    settingUnchanged(e, serverChecked[e.shape], now[e.shape]) &&
    !clientSettings.has(`${e.shape}|${topSetting(e.setting ?? "")}`);
  const shown: GraphError[] = serverErrors.filter(
    (e) => e.shape === null || (e.shape in now && (!changed(e.shape) || kept({ ...e, shape: e.shape }))),
  );
  const seen = new Set(shown.map((e) => JSON.stringify([e.shape, e.setting, e.message])));
  for (const e of client) {
    if (e.shape !== null && !changed(e.shape)) continue;
    const key = JSON.stringify([e.shape, e.setting, e.message]);
    if (!seen.has(key)) shown.push(e);
    seen.add(key);
  }
  return shown;
}

function withErrors(
  nodes: ShapeNode[],
  errors: GraphError[],
  overlay: Record<string, RunOverlay>,
  scope: Record<string, string> | null,
): ShapeNode[] {
  const byShape = new Map<string, GraphError[]>();
  for (const error of errors) {
    if (error.shape !== null) byShape.set(error.shape, [...(byShape.get(error.shape) ?? []), error]);
  }
  return nodes.map((node) => {
    const nodeErrors = byShape.get(node.id) ?? [];
    const nodeOverlay = ranOnCanvas(node.data.shape, scope) ? (overlay[node.id] ?? null) : null;
    if (nodeErrors.length === 0 && node.data.errors.length === 0 && nodeOverlay === node.data.overlay) {
      return node;
    }
    return { ...node, data: { ...node.data, errors: nodeErrors, overlay: nodeOverlay } };
  });
}

const sameGraph = (a: FlowGraph, b: FlowGraph): boolean => graphKey(a) === graphKey(b);

export const useDesigner = create<DesignerState>()((set, get) => {
  /** Replace the canvas with `graph`, keeping the selection of shapes that still exist. */
  const show = (graph: FlowGraph, selected: Set<string>): Pick<DesignerState, "nodes" | "edges"> => {
    const { nodes, edges } = toElements(graph);
    const state = get();
    return {
      nodes: withErrors(
        nodes.map((node) => (selected.has(node.id) ? { ...node, selected: true } : node)),
        state.errors,
        state.overlay,
        state.overlayScope,
      ),
      edges,
    };
  };

  /** Record the current canvas as a new undo step. */
  const commit = (): void => {
    const state = get();
    const graph = fromElements(state.nodes, state.edges);
    const history = record(state.history, graph, sameGraph);
    if (history !== state.history) set({ history, revision: state.revision + 1 });
    revalidate(graph);
  };

  /** Show the client rules' verdict on what changed at once; the server's answer follows the autosave. */
  const revalidate = (graph: FlowGraph): void => {
    const state = get();
    const errors = mergeErrors(graph, state.serverErrors, state.serverChecked);
    if (JSON.stringify(errors) === JSON.stringify(state.errors)) return;
    set({ errors, nodes: withErrors(state.nodes, errors, state.overlay, state.overlayScope) });
  };

  const selectedIds = (): string[] =>
    get()
      .nodes.filter((n) => n.selected)
      .map((n) => n.id);

  return {
    flowId: null,
    nodes: [],
    edges: [],
    history: createHistory<FlowGraph>({ shapes: [], connections: [] }),
    revision: 0,
    savedKey: graphKey({ shapes: [], connections: [] }),
    errors: [],
    serverErrors: [],
    serverChecked: {},
    clipboard: null,
    overlay: {},
    overlayRun: null,
    overlayScope: null,
    notice: null,

    load: (flowId, graph) => {
      const { nodes, edges } = toElements(graph);
      set({
        flowId,
        nodes,
        edges,
        history: createHistory(graph),
        revision: 0,
        savedKey: graphKey(graph),
        errors: [],
        serverErrors: [],
        serverChecked: checkKeys(graph),
        overlay: {},
        overlayRun: null,
        overlayScope: null,
        notice: null,
      });
    },

    markSaved: (graph) => set({ savedKey: graphKey(graph) }),

    graph: () => fromElements(get().nodes, get().edges),

    onNodesChange: (changes) => {
      const removing = changes.some((c) => c.type === "remove");
      set({ nodes: applyNodeChanges(changes, get().nodes) });
      const dragEnded = changes.some((c) => c.type === "position" && c.dragging === false);
      if (dragEnded || removing) {
        if (removing) {
          const ids = new Set(get().nodes.map((n) => n.id));
          set({ edges: get().edges.filter((e) => ids.has(e.source) && ids.has(e.target)) });
        }
        commit();
      }
    },

    onEdgesChange: (changes) => {
      set({ edges: applyEdgeChanges(changes, get().edges) });
      if (changes.some((c) => c.type === "remove")) commit();
    },

    connect: (source, target) => {
      const graph = get().graph();
      const problem = connectionProblem(graph, source, target);
      if (problem !== null) {
        set({ notice: problem });
        return false;
      }
      const connection: Connection = { source, target, ...nextConnectionAttributes(graph, source) };
      set({ edges: [...get().edges, toEdge(connection)], notice: null });
      commit();
      return true;
    },

    addShape: (type, position) => {
      const state = get();
      const existing = state.nodes.map((n) => n.id);
      if (type === "trigger" && state.nodes.some((n) => n.data.shape.type === "trigger")) {
        set({ notice: "A flow has exactly one trigger." });
        return "";
      }
      const shape = createShape(type, position, existing);
      const { nodes } = toElements({ shapes: [shape], connections: [] });
      const added = nodes.map((node) => ({ ...node, selected: true }));
      set({
        nodes: [...state.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), ...added],
        notice: null,
      });
      commit();
      return shape.id;
    },

    updateShape: (id, patch) => {
      const state = get();
      const edited = state.nodes.map((node) =>
        node.id === id
          ? {
              ...node,
              data: {
                ...node.data,
                shape: {
                  ...node.data.shape,
                  ...(patch.name !== undefined ? { name: patch.name } : {}),
                  ...(patch.settings !== undefined ? { settings: patch.settings } : {}),
                } as Shape,
              },
            }
          : node,
      );
      // A shape edited during a run of another version no longer is what ran: it loses the live status.
      set({ nodes: withErrors(edited, state.errors, state.overlay, state.overlayScope) });
      commit();
    },

    updateConnection: (edgeId, patch) => {
      set({
        edges: get().edges.map((edge) => {
          if (edge.id !== edgeId) return edge;
          const connection: Connection = { source: edge.source, target: edge.target };
          if (patch.label !== undefined && patch.label !== "") connection.label = patch.label;
          if (patch.order !== undefined) connection.order = patch.order;
          return { ...toEdge(connection), selected: edge.selected ?? false };
        }),
      });
      commit();
    },

    deleteSelection: () => {
      const state = get();
      const ids = selectedIds();
      const edgeIds = new Set(state.edges.filter((e) => e.selected).map((e) => e.id));
      if (ids.length === 0 && edgeIds.size === 0) return;
      const graph = removeShapes(
        fromElements(
          state.nodes,
          state.edges.filter((e) => !edgeIds.has(e.id)),
        ),
        ids,
      );
      set(show(graph, new Set()));
      commit();
    },

    copySelection: () => {
      const ids = selectedIds();
      if (ids.length === 0) return;
      set({ clipboard: copyFragment(get().graph(), ids), notice: `Copied ${ids.length} shape(s).` });
    },

    paste: () => {
      const { clipboard } = get();
      if (!clipboard || clipboard.shapes.length === 0) return;
      const { graph, pasted } = pasteFragment(get().graph(), clipboard, { x: 40, y: 40 });
      set(show(graph, new Set(pasted)));
      // Paste again shifts further, like most editors.
      set({
        clipboard: {
          ...clipboard,
          shapes: clipboard.shapes.map(
            (s) => ({ ...s, position: { x: s.position.x + 40, y: s.position.y + 40 } }) as Shape,
          ),
        },
      });
      commit();
    },

    undo: () => {
      const history = undo(get().history);
      if (history === get().history) return;
      set({ history, revision: get().revision + 1, ...show(history.present, new Set(selectedIds())) });
      revalidate(history.present);
    },

    redo: () => {
      const history = redo(get().history);
      if (history === get().history) return;
      set({ history, revision: get().revision + 1, ...show(history.present, new Set(selectedIds())) });
      revalidate(history.present);
    },

    layout: () => {
      set(show(autoLayout(get().graph()), new Set(selectedIds())));
      commit();
    },

    selectOnly: (id) => {
      set({
        nodes: get().nodes.map((n) => {
          const selected = n.id === id;
          return (n.selected ?? false) === selected ? n : { ...n, selected };
        }),
        edges: get().edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
      });
    },

    selectAll: () => {
      set({
        nodes: get().nodes.map((n) => (n.selected ? n : { ...n, selected: true })),
        edges: get().edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
      });
    },

    insertAfterSelection: (type, fallback) => {
      const selected = selectedIds();
      const anchor = selected.length === 1 ? (selected[0] ?? null) : null;
      const graph = get().graph();
      const id = get().addShape(type, spotAfter(graph, anchor, fallback));
      if (id !== "" && anchor !== null && connectionProblem(get().graph(), anchor, id) === null) {
        get().connect(anchor, id);
      }
      return id;
    },

    setErrors: (serverErrors, checked) => {
      const graph = get().graph();
      const serverChecked = checkKeys(checked ?? graph);
      const errors = mergeErrors(graph, serverErrors, serverChecked);
      set({
        serverErrors,
        serverChecked,
        errors,
        nodes: withErrors(get().nodes, errors, get().overlay, get().overlayScope),
      });
    },

    setOverlay: (runId, overlay) =>
      set({
        overlay,
        overlayRun: runId,
        nodes: withErrors(get().nodes, get().errors, overlay, get().overlayScope),
      }),

    setOverlayScope: (scope) =>
      set({ overlayScope: scope, nodes: withErrors(get().nodes, get().errors, get().overlay, scope) }),

    setNotice: (notice) => set({ notice }),
  };
});
