/**
 * Shape settings as a discriminated union mirroring docs/shapes.md (the server's graph schema).
 * The browser edits and validates; the server decides how a flow runs.
 */

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

export interface WebhookResponse {
  mode: "immediate" | "final_payload";
  timeout: number;
  status: number;
  body: string;
  format: "json" | "xml" | "text";
}

export type TriggerSettings =
  { kind: "manual" } | { kind: "schedule"; cron: string[] } | { kind: "webhook"; response?: WebhookResponse };

export interface ConnectorSettings {
  connector: number | null;
  endpoint: number | null;
  variables: Record<string, string>;
  timeout: number | null;
  retries: number;
  retry_delay: number | null;
  response_script: number | null;
  response_script_version: number | null;
  max_pages: number;
}

export interface ScriptSettings {
  script: number | null;
  version: number | null;
}

export const TRANSFORMS = [
  "none",
  "upper",
  "lower",
  "trim",
  "string",
  "number",
  "integer",
  "boolean",
  "length",
  "json",
  "script",
] as const;
export type Transform = (typeof TRANSFORMS)[number];

export interface Mapping {
  source: string;
  target: string;
  transform: Transform;
  default?: unknown;
  script?: number | null;
  version?: number | null;
}

export interface MapSettings {
  mappings: Mapping[];
  output: "new" | "merge";
}

export interface FilterSettings {
  conditions: Condition[];
  match: Match;
  keep_matching: boolean;
}

export interface Route {
  label: string;
  conditions: Condition[];
  match: Match;
}

export interface RouteSettings {
  mode: "conditional" | "parallel";
  routes: Route[];
}

export type BranchSettings = Record<string, never>;

export interface SplitSettings {
  format: "json" | "lines" | "csv" | "xml";
  path?: string;
  header?: boolean;
  element?: string;
}

export interface FlowControlSettings {
  size: number;
  path: string;
}

export interface VariableAssignment {
  name: string;
  value: string;
  scope: "flow" | "meta";
}

export interface SetVariablesSettings {
  variables: VariableAssignment[];
}

export interface NotifySettings {
  message: string;
  level: "info" | "warning" | "error";
  email: null | { to: string[]; subject: string };
}

export interface RunFlowSettings {
  flow: number | null;
  pass_payload: boolean;
}

export interface ManualPayloadSettings {
  payload: string;
  meta: Record<string, string>;
}

export interface AssertSettings {
  conditions: Condition[];
  match: Match;
  message: string;
}

export interface TryCatchSettings {
  partial_success: boolean;
}

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
