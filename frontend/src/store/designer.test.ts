import { beforeEach, describe, expect, it } from "vitest";
import { parseGraph } from "../lib/serialize";
import { useDesigner } from "./designer";

const store = useDesigner.getState;

function loadSample(): void {
  store().load(
    1,
    parseGraph({
      shapes: [
        {
          id: "trigger",
          type: "trigger",
          name: "Start",
          position: { x: 0, y: 0 },
          settings: { kind: "manual" },
        },
        {
          id: "route",
          type: "route",
          name: "Route",
          position: { x: 240, y: 0 },
          settings: {
            mode: "conditional",
            routes: [
              { label: "paid", conditions: [], match: "all" },
              { label: "open", conditions: [], match: "all" },
            ],
          },
        },
      ],
      connections: [{ source: "trigger", target: "route" }],
    }),
  );
}

describe("designer store", () => {
  beforeEach(loadSample);

  it("adds shapes, refuses a second trigger and labels route connections in turn", () => {
    const a = store().addShape("notify", { x: 480, y: 0 });
    const b = store().addShape("notify", { x: 480, y: 120 });
    expect([a, b]).toEqual(["notify", "notify-2"]);
    expect(store().addShape("trigger", { x: 0, y: 300 })).toBe("");
    expect(store().notice).toBe("A flow has exactly one trigger.");
    expect(store().connect("route", a)).toBe(true);
    expect(store().connect("route", b)).toBe(true);
    expect(store().graph().connections.slice(1)).toEqual([
      { source: "route", target: "notify", label: "paid" },
      { source: "route", target: "notify-2", label: "open" },
    ]);
    expect(store().connect("notify", "trigger")).toBe(false);
    expect(store().notice).toBe("The trigger cannot have incoming connections.");
  });

  it("undoes and redoes edits and counts revisions for autosave", () => {
    const before = store().revision;
    store().addShape("map", { x: 0, y: 200 });
    store().updateShape("map", { name: "Pick fields" });
    expect(store().revision).toBe(before + 2);
    store().undo();
    expect(
      store()
        .graph()
        .shapes.find((s) => s.id === "map")?.name,
    ).toBe("Map");
    store().undo();
    expect(
      store()
        .graph()
        .shapes.map((s) => s.id),
    ).toEqual(["trigger", "route"]);
    store().redo();
    store().redo();
    expect(
      store()
        .graph()
        .shapes.find((s) => s.id === "map")?.name,
    ).toBe("Pick fields");
  });

  it("deletes the selection with its connections, and copies / pastes it", () => {
    store().selectOnly("route");
    store().copySelection();
    store().paste();
    expect(
      store()
        .graph()
        .shapes.map((s) => s.id),
    ).toEqual(["trigger", "route", "route-2"]);
    expect(
      store()
        .nodes.filter((n) => n.selected)
        .map((n) => n.id),
    ).toEqual(["route-2"]);
    store().selectOnly("route");
    store().deleteSelection();
    expect(store().graph()).toEqual({
      shapes: [expect.objectContaining({ id: "trigger" }), expect.objectContaining({ id: "route-2" })],
      connections: [],
    });
  });

  it("puts server errors and the run overlay on the named shapes only", () => {
    store().setErrors([{ shape: "route", setting: "routes", message: "Bad label" }]);
    store().setOverlay(7, { trigger: { status: "succeeded", payloads: 1 } });
    const byId = new Map(store().nodes.map((n) => [n.id, n.data]));
    expect(byId.get("route")?.errors).toHaveLength(1);
    expect(byId.get("trigger")?.errors).toHaveLength(0);
    expect(byId.get("trigger")?.overlay).toEqual({ status: "succeeded", payloads: 1 });
    expect(byId.get("route")?.overlay).toBeNull();
  });

  it("re-labels a connection", () => {
    store().addShape("notify", { x: 480, y: 0 });
    store().connect("route", "notify");
    store().updateConnection("route->notify", { label: "open" });
    expect(store().graph().connections[1]).toEqual({ source: "route", target: "notify", label: "open" });
  });
});
