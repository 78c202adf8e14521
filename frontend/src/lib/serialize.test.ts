import { describe, expect, it } from "vitest";
import type { FlowGraph } from "../shapes/types";
import { fromElements, GraphParseError, parseGraph, toElements } from "./serialize";
import { createHistory, record, redo, undo } from "./history";

const designExample = {
  shapes: [
    {
      id: "trigger",
      type: "trigger",
      name: "Webhook",
      position: { x: 0, y: 0 },
      settings: { kind: "webhook" },
    },
    {
      id: "get-order",
      type: "connector",
      name: "Get order",
      position: { x: 240, y: 0 },
      settings: {
        connector: 1,
        endpoint: 3,
        variables: { order_id: "[[payload.order_id]]" },
        timeout: 30,
        retries: 2,
        response_script: 7,
        response_script_version: null,
      },
    },
    {
      id: "tidy",
      type: "script",
      name: "Tidy",
      position: { x: 480, y: 0 },
      settings: { script: 5, version: null },
    },
    { id: "b", type: "branch", name: "Branch", position: { x: 720, y: 0 }, settings: {} },
  ],
  connections: [
    { source: "trigger", target: "get-order" },
    { source: "get-order", target: "tidy" },
    { source: "tidy", target: "b" },
    { source: "b", target: "tidy-2", order: 1 },
  ],
};

describe("parseGraph", () => {
  it("reads the DESIGN example and fills missing optional settings with defaults", () => {
    const graph = parseGraph(designExample);
    const connector = graph.shapes[1];
    expect(connector?.type).toBe("connector");
    if (connector?.type === "connector") {
      expect(connector.settings.timeout).toBe(30);
      expect(connector.settings.max_pages).toBe(100);
      expect(connector.settings.variables).toEqual({ order_id: "[[payload.order_id]]" });
    }
    expect(graph.shapes[0]?.settings).toEqual({ kind: "webhook" });
    expect(graph.connections[3]).toEqual({ source: "b", target: "tidy-2", order: 1 });
  });

  it("treats a missing graph body as empty", () => {
    expect(parseGraph({})).toEqual({ shapes: [], connections: [] });
  });

  it("refuses malformed graphs with a readable message", () => {
    expect(() => parseGraph(null)).toThrow(GraphParseError);
    expect(() => parseGraph({ shapes: [{ id: "x", type: "teleport" }] })).toThrow(
      "Shape x has an unknown type teleport.",
    );
    expect(() => parseGraph({ shapes: [], connections: [{ source: "a" }] })).toThrow(
      "Connection 1 needs a source and a target.",
    );
  });
});

describe("toElements / fromElements", () => {
  it("round-trips a graph through canvas elements", () => {
    const graph = parseGraph(designExample);
    const { nodes, edges } = toElements(graph);
    expect(fromElements(nodes, edges)).toEqual(graph);
  });

  it("labels route and branch edges and attaches errors to their shapes", () => {
    const graph: FlowGraph = parseGraph(designExample);
    const { nodes, edges } = toElements(graph, [
      { shape: "tidy", setting: "script", message: "Script 5 has no deployed version." },
      { shape: null, setting: null, message: "graph level" },
    ]);
    expect(edges[3]?.label).toBe("#1");
    expect(edges[0]?.id).toBe("trigger->get-order");
    expect(nodes.find((n) => n.id === "tidy")?.data.errors).toHaveLength(1);
    expect(nodes.find((n) => n.id === "trigger")?.data.errors).toHaveLength(0);
  });

  it("rounds dragged positions when saving", () => {
    const { nodes, edges } = toElements(parseGraph(designExample));
    const first = nodes[0];
    if (first) first.position = { x: 10.6, y: -3.2 };
    expect(fromElements(nodes, edges).shapes[0]?.position).toEqual({ x: 11, y: -3 });
  });
});

describe("history", () => {
  const same = (a: number, b: number): boolean => a === b;
  it("undoes and redoes, and a new edit clears the redo stack", () => {
    let h = createHistory(1);
    h = record(h, 2, same);
    h = record(h, 2, same);
    h = record(h, 3, same);
    expect(h.past).toEqual([1, 2]);
    h = undo(h);
    expect(h.present).toBe(2);
    h = redo(h);
    expect(h.present).toBe(3);
    h = undo(undo(h));
    expect(h.present).toBe(1);
    h = record(h, 9, same);
    expect(h.future).toEqual([]);
    expect(undo(createHistory(5)).present).toBe(5);
  });
});
