/** Where a shape added from the keyboard goes: after the selected shape, never on top of another. Pure. */
import type { FlowGraph } from "../shapes/types";
import { SHAPE_HEIGHT, SHAPE_WIDTH } from "./graph";

export const GAP_X = 80;
export const GAP_Y = 40;

export interface Point {
  x: number;
  y: number;
}

function overlaps(graph: FlowGraph, at: Point): boolean {
  return graph.shapes.some(
    (shape) =>
      Math.abs(shape.position.x - at.x) < SHAPE_WIDTH + GAP_X / 2 &&
      Math.abs(shape.position.y - at.y) < SHAPE_HEIGHT + GAP_Y / 2,
  );
}

/** `wanted`, or the nearest free spot below it (then to its right), so the new shape covers none. */
export function freeSpot(graph: FlowGraph, wanted: Point): Point {
  for (let column = 0; column < 50; column++) {
    for (let row = 0; row < 50; row++) {
      const at = { x: wanted.x + column * (SHAPE_WIDTH + GAP_X), y: wanted.y + row * (SHAPE_HEIGHT + GAP_Y) };
      if (!overlaps(graph, at)) return at;
    }
  }
  return wanted;
}

/** The spot right of shape `anchor` (its next column), free of other shapes; `fallback` without one. */
export function spotAfter(graph: FlowGraph, anchor: string | null, fallback: Point): Point {
  const shape = anchor === null ? undefined : graph.shapes.find((s) => s.id === anchor);
  if (!shape) return freeSpot(graph, fallback);
  return freeSpot(graph, { x: shape.position.x + SHAPE_WIDTH + GAP_X, y: shape.position.y });
}
