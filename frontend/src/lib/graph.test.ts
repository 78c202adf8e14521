import { describe, expect, it } from "vitest";
import type { FlowGraph, Shape } from "../shapes/types";
import {
  connectionProblem,
  copyFragment,
  createShape,
  createsCycle,
  errorsByShape,
  findCycleShapes,
  fitViewport,
  layoutInput,
  newShapeId,
  nextConnectionAttributes,
  pasteFragment,
  removeShapes,
  SHAPE_HEIGHT,
  SHAPE_WIDTH,
  validateGraph,
} from "./graph";
import { autoLayout } from "./layout";

function shape(partial: Partial<Shape> & Pick<Shape, "id" | "type">): Shape {
  const base = createShape(partial.type, { x: 0, y: 0 }, []);
  return { ...base, ...partial, id: partial.id } as Shape;
}

function validFlow(): FlowGraph {
  return {
    shapes: [
      shape({ id: "trigger", type: "trigger" }),
      shape({
        id: "get",
        type: "connector",
        settings: {
          connector: 1,
          endpoint: 2,
          variables: {},
          timeout: null,
          retries: 0,
          retry_delay: null,
          response_script: 7,
          response_script_version: null,
          max_pages: 100,
        },
      }),
      shape({ id: "tidy", type: "script", settings: { script: 5, version: null } }),
    ],
    connections: [
      { source: "trigger", target: "get" },
      { source: "get", target: "tidy" },
    ],
  };
}

describe("newShapeId", () => {
  it("uses the type, then numbered suffixes", () => {
    expect(newShapeId("map", [])).toBe("map");
    expect(newShapeId("map", ["map"])).toBe("map-2");
    expect(newShapeId("map", ["map", "map-2"])).toBe("map-3");
  });
});

describe("validateGraph", () => {
  it("accepts a complete flow", () => {
    expect(validateGraph(validFlow())).toEqual([]);
  });

  it("requires a trigger", () => {
    const graph = validFlow();
    graph.shapes = graph.shapes.filter((s) => s.type !== "trigger");
    graph.connections = graph.connections.filter((c) => c.source !== "trigger");
    expect(validateGraph(graph)).toContainEqual({
      shape: null,
      setting: null,
      message: "The flow needs a trigger.",
    });
  });

  it("flags a second trigger", () => {
    const graph = validFlow();
    graph.shapes.push(shape({ id: "trigger-2", type: "trigger" }));
    const errors = validateGraph(graph);
    expect(errors).toContainEqual({
      shape: "trigger-2",
      setting: null,
      message: "A flow has exactly one trigger.",
    });
  });

  it("names the missing required settings of the offending shape", () => {
    const graph = validFlow();
    graph.shapes[1] = shape({ id: "get", type: "connector" });
    const errors = validateGraph(graph);
    expect(errors).toContainEqual({ shape: "get", setting: "connector", message: "Choose a connector." });
    expect(errors).toContainEqual({ shape: "get", setting: "endpoint", message: "Choose an endpoint." });
  });

  it("flags unreachable shapes and cycles", () => {
    const graph = validFlow();
    graph.shapes.push(
      shape({ id: "lost", type: "try_catch" }),
      shape({ id: "a", type: "notify", settings: { message: "x", level: "info", email: null } }),
    );
    graph.connections.push({ source: "lost", target: "a", label: "try" }, { source: "a", target: "lost" });
    const errors = validateGraph(graph);
    expect(errors.filter((e) => e.message === "Not reachable from the trigger.").map((e) => e.shape)).toEqual(
      ["lost", "a"],
    );
    expect(findCycleShapes(graph)).toEqual(["lost", "a"]);
    expect(errors.some((e) => e.message.startsWith("Cycle through"))).toBe(true);
  });

  it("checks schedule cron expressions", () => {
    const graph = validFlow();
    graph.shapes[0] = shape({
      id: "trigger",
      type: "trigger",
      settings: { kind: "schedule", cron: ["* * *"] },
    });
    expect(validateGraph(graph)).toContainEqual({
      shape: "trigger",
      setting: "cron",
      message: '"* * *" is not a 5-field cron expression.',
    });
  });

  it("requires route labels on conditional route connections", () => {
    const graph = validFlow();
    graph.shapes.push(
      shape({
        id: "route",
        type: "route",
        settings: { mode: "conditional", routes: [{ label: "paid", conditions: [], match: "all" }] },
      }),
    );
    graph.connections.push({ source: "tidy", target: "route" });
    graph.shapes.push(
      shape({ id: "done", type: "notify", settings: { message: "m", level: "info", email: null } }),
    );
    graph.connections.push({ source: "route", target: "done", label: "unpaid" });
    expect(validateGraph(graph)).toContainEqual({
      shape: "route",
      setting: "routes",
      message: "The connection to done must be labelled with one of the routes.",
    });
  });

  it("groups errors by shape", () => {
    const grouped = errorsByShape([
      { shape: "a", setting: null, message: "1" },
      { shape: null, setting: null, message: "2" },
      { shape: "a", setting: "x", message: "3" },
    ]);
    expect(grouped.get("a")?.map((e) => e.message)).toEqual(["1", "3"]);
    expect(grouped.get("")?.map((e) => e.message)).toEqual(["2"]);
  });
});

describe("connections", () => {
  it("refuses self loops, duplicates, edges into the trigger and cycles", () => {
    const graph = validFlow();
    expect(connectionProblem(graph, "get", "get")).toBe("A shape cannot connect to itself.");
    expect(connectionProblem(graph, "trigger", "get")).toBe("These shapes are already connected.");
    expect(connectionProblem(graph, "tidy", "trigger")).toBe("The trigger cannot have incoming connections.");
    expect(connectionProblem(graph, "tidy", "get")).toBe("That connection would create a cycle.");
    expect(createsCycle(graph, "trigger", "tidy")).toBe(false);
    expect(connectionProblem(graph, "trigger", "tidy")).toBeNull();
  });

  it("hands out branch orders, try/catch labels and route labels in turn", () => {
    const graph: FlowGraph = {
      shapes: [
        shape({ id: "b", type: "branch" }),
        shape({ id: "t", type: "try_catch" }),
        shape({
          id: "r",
          type: "route",
          settings: {
            mode: "conditional",
            routes: [
              { label: "a", conditions: [], match: "all" },
              { label: "b", conditions: [], match: "all" },
            ],
          },
        }),
      ],
      connections: [
        { source: "b", target: "x", order: 1 },
        { source: "t", target: "x", label: "try" },
        { source: "r", target: "x", label: "a" },
      ],
    };
    expect(nextConnectionAttributes(graph, "b")).toEqual({ order: 2 });
    expect(nextConnectionAttributes(graph, "t")).toEqual({ label: "catch" });
    expect(nextConnectionAttributes(graph, "r")).toEqual({ label: "b" });
  });

  it("limits a branch to six connections", () => {
    const graph: FlowGraph = { shapes: [shape({ id: "b", type: "branch" })], connections: [] };
    for (let i = 1; i <= 7; i += 1) graph.shapes.push(shape({ id: `n${i}`, type: "try_catch" }));
    for (let i = 1; i <= 6; i += 1) graph.connections.push({ source: "b", target: `n${i}`, order: i });
    expect(connectionProblem(graph, "b", "n7")).toBe("A branch has at most 6 outgoing connections.");
  });
});

describe("copy, paste and remove", () => {
  it("removes shapes with their connections", () => {
    const graph = removeShapes(validFlow(), ["get"]);
    expect(graph.shapes.map((s) => s.id)).toEqual(["trigger", "tidy"]);
    expect(graph.connections).toEqual([]);
  });

  it("pastes copies with fresh ids, offset positions and remapped inner connections", () => {
    const graph = validFlow();
    const fragment = copyFragment(graph, ["trigger", "get", "tidy"]);
    const { graph: next, pasted } = pasteFragment(graph, fragment, { x: 40, y: 40 });
    expect(pasted).toEqual(["connector", "script"]);
    expect(next.shapes).toHaveLength(5);
    expect(next.connections).toContainEqual({ source: "connector", target: "script" });
    const copy = next.shapes.find((s) => s.id === "connector");
    expect(copy?.position).toEqual({ x: 40, y: 40 });
    // The original is untouched by edits of the copy.
    expect(fragment.shapes[1]).not.toBe(graph.shapes[1]);
  });
});

describe("auto-layout", () => {
  it("orders branch connections by their order and weights trigger edges", () => {
    const graph: FlowGraph = {
      shapes: [
        shape({ id: "trigger", type: "trigger" }),
        shape({ id: "b", type: "branch" }),
        shape({ id: "x", type: "try_catch" }),
        shape({ id: "y", type: "try_catch" }),
      ],
      connections: [
        { source: "trigger", target: "b" },
        { source: "b", target: "y", order: 2 },
        { source: "b", target: "x", order: 1 },
        { source: "b", target: "missing", order: 3 },
      ],
    };
    const input = layoutInput(graph);
    expect(input.nodes).toHaveLength(4);
    expect(input.edges).toEqual([
      { source: "trigger", target: "b", weight: 2 },
      { source: "b", target: "x", weight: 1 },
      { source: "b", target: "y", weight: 1 },
    ]);
  });

  it("places every shape left to right along its connections", () => {
    const laid = autoLayout(validFlow());
    const x = (id: string): number => laid.shapes.find((s) => s.id === id)?.position.x ?? NaN;
    expect(x("trigger")).toBeLessThan(x("get"));
    expect(x("get")).toBeLessThan(x("tidy"));
  });
});

describe("auto-layout of unconnected shapes", () => {
  const overlaps = (graph: FlowGraph): string[] => {
    const hits: string[] = [];
    for (const a of graph.shapes) {
      for (const b of graph.shapes) {
        if (a.id >= b.id) continue;
        const apart =
          a.position.x + SHAPE_WIDTH <= b.position.x ||
          b.position.x + SHAPE_WIDTH <= a.position.x ||
          a.position.y + SHAPE_HEIGHT <= b.position.y ||
          b.position.y + SHAPE_HEIGHT <= a.position.y;
        if (!apart) hits.push(`${a.id}/${b.id}`);
      }
    }
    return hits;
  };
  // Every shape dropped on one spot, two of them connected to the trigger.
  const piled: FlowGraph = {
    shapes: ["trigger", "a", "b", "c", "d", "e", "f", "g"].map((id) =>
      shape({ id, type: id === "trigger" ? "trigger" : "branch" }),
    ),
    connections: [
      { source: "trigger", target: "a" },
      { source: "a", target: "b" },
    ],
  };

  it("leaves no two shapes overlapping", () => {
    expect(overlaps(piled)).not.toEqual([]);
    expect(overlaps(autoLayout(piled))).toEqual([]);
  });

  it("parks unconnected shapes in rows below the flow, not in a column under the trigger", () => {
    const laid = autoLayout(piled);
    const at = (id: string): { x: number; y: number } =>
      laid.shapes.find((s) => s.id === id)?.position ?? { x: NaN, y: NaN };
    const flowBottom = Math.max(...["trigger", "a", "b"].map((id) => at(id).y)) + SHAPE_HEIGHT;
    for (const id of ["c", "d", "e", "f", "g"]) expect(at(id).y).toBeGreaterThan(flowBottom);
    // Left to right in the order they were added, four to a row.
    expect(at("c").y).toBe(at("d").y);
    expect(at("c").x).toBeLessThan(at("d").x);
    expect(at("d").x).toBeLessThan(at("e").x);
    expect(at("f").y).toBe(at("c").y);
    expect(at("g").y).toBeGreaterThan(at("c").y);
    expect(at("g").x).toBe(at("c").x);
  });

  it("lays out a flow of unconnected shapes only in a row from the top left", () => {
    const loose: FlowGraph = { shapes: piled.shapes, connections: [] };
    const laid = autoLayout(loose);
    expect(overlaps(laid)).toEqual([]);
    expect(laid.shapes[0]?.position).toEqual({ x: 20, y: 20 });
  });
});

describe("fitViewport", () => {
  it("centres the shapes and caps the zoom", () => {
    const graph: FlowGraph = { shapes: [shape({ id: "trigger", type: "trigger" })], connections: [] };
    const view = fitViewport(graph, 1000, 600);
    expect(view.zoom).toBe(1.2);
    // The one shape at (0, 0) ends up in the middle of the pane.
    expect(view.x + (SHAPE_WIDTH / 2) * view.zoom).toBeCloseTo(500);
    expect(view.y + (SHAPE_HEIGHT / 2) * view.zoom).toBeCloseTo(300);
  });

  it("zooms out to fit a wide flow, not below the minimum", () => {
    const wide: FlowGraph = {
      shapes: [
        shape({ id: "a", type: "branch" }),
        { ...shape({ id: "b", type: "branch" }), position: { x: 4800, y: 0 } },
      ],
      connections: [],
    };
    expect(fitViewport(wide, 1000, 600).zoom).toBeCloseTo(1000 / ((4800 + SHAPE_WIDTH) * 1.2));
    expect(fitViewport(wide, 100, 600).zoom).toBe(0.1);
    expect(fitViewport({ shapes: [], connections: [] }, 1000, 600)).toEqual({ x: 0, y: 0, zoom: 1 });
  });
});
