/**
 * Shape settings as a discriminated union mirroring docs/shapes.md (the server's graph schema).
 * The browser edits and validates; the server decides how a flow runs.
 *
 * Each kind's settings type is declared in its own `<kind>-shape.tsx`; this file joins them into the
 * union (`SHAPE_TYPES`, `SettingsByType`) and holds what several kinds share (conditions, the graph).
 */

import type { WebhookResponse, TriggerSettings } from "./trigger-shape";
import type { ConnectorSettings } from "./connector-shape";
import type { ScriptSettings } from "./script-shape";
import type { Transform, Mapping, MapSettings } from "./map-shape";
import type { FilterSettings } from "./filter-shape";
import type { Route, RouteSettings } from "./route-shape";
import type { BranchSettings } from "./branch-shape";
import type { SplitSettings } from "./split-shape";
import type { FlowControlSettings } from "./flow-control-shape";
import type { VariableAssignment, SetVariablesSettings } from "./set-variables-shape";
import type { NotifySettings } from "./notify-shape";
import type { RunFlowSettings } from "./run-flow-shape";
import type { ManualPayloadSettings } from "./manual-payload-shape";
import type { AssertSettings } from "./assert-shape";
import type { TryCatchSettings } from "./try-catch-shape";
import type { CacheAddSettings, CacheScope } from "./cache-add-shape";
import type { CacheLoadSettings } from "./cache-load-shape";
import type { DedupeMode, DedupeSettings } from "./dedupe-shape";

export type {
  WebhookResponse,
  TriggerSettings,
  ConnectorSettings,
  ScriptSettings,
  Transform,
  Mapping,
  MapSettings,
  FilterSettings,
  Route,
  RouteSettings,
  BranchSettings,
  SplitSettings,
  FlowControlSettings,
  VariableAssignment,
  SetVariablesSettings,
  NotifySettings,
  RunFlowSettings,
  ManualPayloadSettings,
  AssertSettings,
  TryCatchSettings,
  CacheAddSettings,
  CacheScope,
  CacheLoadSettings,
  DedupeMode,
  DedupeSettings,
};

export const SHAPE_TYPES = [
  "trigger",
  "connector",
  "script",
  "map",
  "filter",
  "route",
  "branch",
  "split",
  "flow_control",
  "set_variables",
  "notify",
  "run_flow",
  "manual_payload",
  "assert",
  "try_catch",
  "cache_add",
  "cache_load",
  "dedupe",
] as const;

export type ShapeType = (typeof SHAPE_TYPES)[number];

export const OPERATORS = [
  "equals",
  "not_equals",
  "contains",
  "not_contains",
  "starts_with",
  "ends_with",
  "greater_than",
  "greater_or_equal",
  "less_than",
  "less_or_equal",
  "in",
  "matches",
  "exists",
  "not_exists",
  "is_empty",
  "is_not_empty",
] as const;
export type Operator = (typeof OPERATORS)[number];

/** Operators that take no value. */
export const UNARY_OPERATORS: ReadonlySet<Operator> = new Set([
  "exists",
  "not_exists",
  "is_empty",
  "is_not_empty",
]);

export interface Condition {
  source: "payload" | "meta" | "variables";
  path: string;
  operator: Operator;
  value?: unknown;
}

export type Match = "all" | "any";

export interface SettingsByType {
  trigger: TriggerSettings;
  connector: ConnectorSettings;
  script: ScriptSettings;
  map: MapSettings;
  filter: FilterSettings;
  route: RouteSettings;
  branch: BranchSettings;
  split: SplitSettings;
  flow_control: FlowControlSettings;
  set_variables: SetVariablesSettings;
  notify: NotifySettings;
  run_flow: RunFlowSettings;
  manual_payload: ManualPayloadSettings;
  assert: AssertSettings;
  try_catch: TryCatchSettings;
  cache_add: CacheAddSettings;
  cache_load: CacheLoadSettings;
  dedupe: DedupeSettings;
}

/** A shape of the flow graph JSON, discriminated by `type`. */
export type Shape = {
  [T in ShapeType]: {
    id: string;
    type: T;
    name: string;
    position: { x: number; y: number };
    settings: SettingsByType[T];
  };
}[ShapeType];

export type ShapeOf<T extends ShapeType> = Extract<Shape, { type: T }>;

export interface Connection {
  source: string;
  target: string;
  label?: string;
  order?: number;
}

export interface FlowGraph {
  shapes: Shape[];
  connections: Connection[];
}

/** A server validation error (docs/shapes.md "Validation errors"). */
export interface GraphError {
  shape: string | null;
  setting: string | null;
  message: string;
}

export function isShapeType(value: unknown): value is ShapeType {
  return typeof value === "string" && (SHAPE_TYPES as readonly string[]).includes(value);
}
