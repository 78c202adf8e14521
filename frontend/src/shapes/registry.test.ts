import { describe, expect, it } from "vitest";
import { createShape, validateGraph } from "../lib/graph";
import { PALETTE, SHAPES } from ".";
import { checkConditions, defaultCondition, isBlank } from "./rules";
import { SHAPE_TYPES } from "./types";

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
