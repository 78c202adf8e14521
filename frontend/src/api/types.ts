/**
 * The REST API's resources as the app uses them, derived from the generated `schema.d.ts` (openapi-typescript
 * over the server's OpenAPI schema: `make api-types`). Nothing here restates a field list by hand.
 *
 * Two adjustments, both because the schema describes input and output with one set of fields:
 * - `Body<T>`: a response always carries every field; drf-spectacular marks fields that have a default
 *   optional, which is true of a request only.
 * - JSON fields (`JSONField` on the server) are `unknown` in the schema; `Json` gives each the shape the
 *   server's validation guarantees (string maps for variables and headers, an object for pagination).
 */
import type { components } from "./schema";
import { RUN_STATUSES as SERVER_RUN_STATUSES, TERMINAL_STATUSES as SERVER_TERMINAL } from "./server-lists";

type Schemas = components["schemas"];
type Body<T> = { -readonly [K in keyof T]-?: T[K] };
type Json<T, Fields> = Omit<Body<T>, keyof Fields> & Fields;
type StringMap = Record<string, string>;

export type RunStatus = Schemas["RunStatusEnum"];
export const RUN_STATUSES: readonly RunStatus[] = SERVER_RUN_STATUSES;
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set<string>(SERVER_TERMINAL);

export type Me = Body<Schemas["Me"]>;
export type RunSummary = Json<Schemas["Run"], { insights: Record<string, unknown> | null }>;
export type Flow = Json<Schemas["Flow"], { variables: StringMap }>;
export type FlowVersion = Body<Schemas["FlowVersion"]>;
export type FlowVersionDetail = Body<Schemas["FlowVersionDetail"]>;
export type AuthType = Schemas["AuthTypeEnum"];
export type Connector = Json<Schemas["Connector"], { default_headers: StringMap }>;
export type Endpoint = Json<
  Schemas["Endpoint"],
  { query: StringMap; headers: StringMap; pagination: Record<string, unknown> }
>;
export type Script = Body<Schemas["Script"]>;
export type ScriptVersionInfo = Body<Schemas["ScriptVersionListItem"]>;
export type ScriptVersionDetail = Body<Schemas["ScriptVersionDetail"]>;
export type ScriptTestResult = Body<Schemas["TestResult"]>;
export type ScriptTemplate = Body<Schemas["Template"]>;
export type StepAttempt = Body<Schemas["Attempt"]>;
export type Step = Body<Schemas["Step"]> & { connector_attempts?: StepAttempt[] };
export type PayloadInfo = Json<Schemas["Payload"], { meta: StringMap }>;
export type RunDetail = Json<
  Schemas["RunDetail"],
  { insights: Record<string, unknown> | null; input_meta: StringMap; variables: StringMap; steps: Step[] }
>;
/** `GET /api/runs/{id}/graph/`: what the run executes (a test run's draft snapshot, else its version's). */
export type RunGraph = Body<Schemas["RunGraph"]>;
export type LogLine = Json<Schemas["LogLine"], { step: number | null; shape_id?: string | null }>;
export type ShapeTypeInfo = Body<Schemas["ShapeType"]>;

/** A flow that uses a script, connector or flow (`GET /api/scripts/{id}/used-by/`, 409 "used by" items). */
export type FlowUse = Body<Schemas["FlowUse"]>;
export type ScriptUsedBy = Body<Schemas["UsedBy"]>;
