import { describe, expect, it } from "vitest";
import type { FlowGraph, Shape } from "../shapes/types";
import { SHAPE_HEIGHT, SHAPE_WIDTH } from "./graph";
import { freeSpot, GAP_X, GAP_Y, spotAfter } from "./placement";

function graphAt(...points: [string, number, number][]): FlowGraph {
  return {
    shapes: points.map(
      ([id, x, y]) =>
        ({ id, type: "map", name: id, position: { x, y }, settings: { mappings: [] } }) as unknown as Shape,
    ),
    connections: [],
  };
}

describe("spotAfter", () => {
  it("puts the new shape in the column right of the anchor", () => {
    expect(spotAfter(graphAt(["a", 0, 0]), "a", { x: 999, y: 999 })).toEqual({
      x: SHAPE_WIDTH + GAP_X,
      y: 0,
    });
  });

  it("moves down past shapes already in that spot", () => {
    const graph = graphAt(["a", 0, 0], ["b", SHAPE_WIDTH + GAP_X, 0]);
    expect(spotAfter(graph, "a", { x: 0, y: 0 })).toEqual({
      x: SHAPE_WIDTH + GAP_X,
      y: SHAPE_HEIGHT + GAP_Y,
    });
  });
});

describe("freeSpot", () => {
  it("keeps a free spot and never lands on a shape", () => {
    const graph = graphAt(["a", 100, 100]);
    expect(freeSpot(graph, { x: 600, y: 100 })).toEqual({ x: 600, y: 100 });
    const spot = freeSpot(graph, { x: 110, y: 110 });
    expect(Math.abs(spot.y - 100) >= SHAPE_HEIGHT || Math.abs(spot.x - 100) >= SHAPE_WIDTH).toBe(true);
  });
});
