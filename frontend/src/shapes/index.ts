/** The shape registry: one definition per shape kind, in palette order. */
import { assertShape } from "./assert-shape";
import { branchShape } from "./branch-shape";
import { cacheAddShape } from "./cache-add-shape";
import { cacheLoadShape } from "./cache-load-shape";
import { connectorShape } from "./connector-shape";
import { dedupeShape } from "./dedupe-shape";
import type { ShapeDefinition } from "./definition";
import { filterShape } from "./filter-shape";
import { flowControlShape } from "./flow-control-shape";
import { manualPayloadShape } from "./manual-payload-shape";
import { mapShape } from "./map-shape";
import { notifyShape } from "./notify-shape";
import { routeShape } from "./route-shape";
import { runFlowShape } from "./run-flow-shape";
import { scriptShape } from "./script-shape";
import { setVariablesShape } from "./set-variables-shape";
import { splitShape } from "./split-shape";
import { triggerShape } from "./trigger-shape";
import { tryCatchShape } from "./try-catch-shape";
import type { ShapeType } from "./types";
import { SHAPE_TYPE_NAMES } from "../api/server-lists";

export const SHAPES: { [T in ShapeType]: ShapeDefinition<T> } = {
  trigger: triggerShape,
  connector: connectorShape,
  script: scriptShape,
  map: mapShape,
  filter: filterShape,
  route: routeShape,
  branch: branchShape,
  split: splitShape,
  flow_control: flowControlShape,
  set_variables: setVariablesShape,
  notify: notifyShape,
  run_flow: runFlowShape,
  manual_payload: manualPayloadShape,
  assert: assertShape,
  try_catch: tryCatchShape,
  cache_add: cacheAddShape,
  cache_load: cacheLoadShape,
  dedupe: dedupeShape,
};

export function shapeDefinition<T extends ShapeType>(type: T): ShapeDefinition<T> {
  return SHAPES[type];
}

/** The kinds of the registry, in the server's order. */
export const SHAPE_TYPES: readonly ShapeType[] = SHAPE_TYPE_NAMES.filter(
  (type): type is ShapeType => type in SHAPES,
);

export const PALETTE: ShapeType[] = [...SHAPE_TYPES];

export function isShapeType(value: unknown): value is ShapeType {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(SHAPES, value);
}

export type { ShapeDefinition, Lookups, PanelProps } from "./definition";
