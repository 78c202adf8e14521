/**
 * Shape settings as a discriminated union mirroring docs/shapes.md (the server's graph schema).
 * The browser edits and validates; the server decides how a flow runs.
 *
 * Each kind's settings type is declared in its own `<kind>-shape.tsx`; this file joins them into the
 * union (`SettingsByType`) and holds what several kinds share (conditions, the graph).
 */

import { CONDITION_OPERATORS, OPERATORS_WITHOUT_VALUE, SHAPE_TYPE_NAMES } from "../api/server-lists";
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

/** The kinds the canvas knows: one `SettingsByType` entry and one shape file each (the registry, `index.ts`). */
export type ShapeType = keyof SettingsByType;

/** Every kind of the canvas is one the server knows (the generated list); a kind only the server knows is
 * missing its shape file, and the canvas cannot show it. */
type ServerShapeType = (typeof SHAPE_TYPE_NAMES)[number];
export type UnknownToServer = Exclude<ShapeType, ServerShapeType>;
const everyKindIsKnownToTheServer: [UnknownToServer] extends [never] ? true : UnknownToServer = true;
void everyKindIsKnownToTheServer;

export const OPERATORS = CONDITION_OPERATORS;
export type Operator = (typeof OPERATORS)[number];

/** Operators that take no value. */
export const UNARY_OPERATORS: ReadonlySet<Operator> = new Set(OPERATORS_WITHOUT_VALUE);

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
