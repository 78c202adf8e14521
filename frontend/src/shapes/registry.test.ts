import { describe, expect, it } from "vitest";
import { createShape, validateGraph } from "../lib/graph";
import { PALETTE, SHAPE_TYPES, SHAPES } from ".";
import { checkConditions, defaultCondition, isBlank } from "./rules";
import { SHAPE_TYPE_SCHEMAS } from "../api/server-lists";

describe("the shape registry", () => {
  it("has one definition per shape type, keyed by its own type", () => {
    expect(Object.keys(SHAPES).sort()).toEqual([...SHAPE_TYPES].sort());
    for (const type of SHAPE_TYPES) expect(SHAPES[type].type).toBe(type);
    expect(PALETTE).toEqual([...SHAPE_TYPES]);
  });

  it("creates a shape from its kind's label and defaults, a fresh copy each time", () => {
    const first = createShape("filter", { x: 10.4, y: 20.6 }, []);
    const second = createShape("filter", { x: 0, y: 0 }, [first.id]);
    expect(first).toMatchObject({ id: "filter", name: "Filter", position: { x: 10, y: 21 } });
    expect(first.settings).toEqual(SHAPES.filter.defaults());
    expect(second.id).toBe("filter-2");
    expect(second.settings).not.toBe(first.settings);
  });

  it("runs the kind's own validation on its settings and names the setting", () => {
    const trigger = createShape("trigger", { x: 0, y: 0 }, []);
    const connector = createShape("connector", { x: 200, y: 0 }, [trigger.id]);
    const errors = validateGraph({
      shapes: [trigger, connector],
      connections: [{ source: trigger.id, target: connector.id }],
    });
    expect(errors).toEqual([
      { shape: "connector", setting: "connector", message: "Choose a connector." },
      { shape: "connector", setting: "endpoint", message: "Choose an endpoint." },
    ]);
  });

  it("takes each kind's label, description, connection attribute and JSON Schema from the server", () => {
    const server = new Map(SHAPE_TYPE_SCHEMAS.map((shape) => [shape.type, shape]));
    for (const type of SHAPE_TYPES) {
      const description = server.get(type);
      expect(SHAPES[type].label).toBe(description?.label);
      expect(SHAPES[type].settingsSchema).toBe(description?.settings);
    }
    expect([SHAPES.route.connection, SHAPES.try_catch.connection, SHAPES.branch.connection]).toEqual([
      "label",
      "label",
      "order",
    ]);
    expect(SHAPES.map.connection).toBe("plain");
  });

  it("starts every kind with settings its server schema allows (no unknown, every required one)", () => {
    for (const type of SHAPE_TYPES) {
      const schema = SHAPES[type].settingsSchema as { properties?: object; required?: string[] };
      const settings = SHAPES[type].defaults() as Record<string, unknown>;
      const known = Object.keys(schema.properties ?? {});
      expect(Object.keys(settings).filter((k) => !known.includes(k))).toEqual([]);
      for (const name of schema.required ?? []) expect(settings).toHaveProperty(name);
    }
  });

  it("lets a kind without settings rules pass", () => {
    expect(SHAPES.branch.validate).toBeUndefined();
    expect(SHAPES.try_catch.defaults()).toEqual({ partial_success: true });
  });
});

describe("shared rules", () => {
  it("treats null, undefined and whitespace as blank, but not zero", () => {
    expect([null, undefined, "", "  "].map(isBlank)).toEqual([true, true, true, true]);
    expect([0, "x", false].map(isBlank)).toEqual([false, false, false]);
  });

  it("checks every condition's path and the value of 'in'", () => {
    const problems: [string, string][] = [];
    checkConditions(
      [
        defaultCondition(),
        { path: "a", operator: "in", value: "x" },
        { path: "b", operator: "in", value: [1] },
      ],
      "conditions",
      (setting, message) => problems.push([setting, message]),
    );
    expect(problems).toEqual([
      ["conditions[0].path", "Every condition needs a path."],
      ["conditions[1].value", "The 'in' operator needs a list of values."],
    ]);
  });
});
