/** Shapes of the REST API's resources (DESIGN section 7), as far as the app uses them. */

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "stopped" | "partial_success";
export const RUN_STATUSES: RunStatus[] = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "stopped",
  "partial_success",
];
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  "succeeded",
  "failed",
  "stopped",
  "partial_success",
]);

export interface Me {
  id: number;
  username: string;
  roles: string[];
  can_write: boolean;
}

export interface RunSummary {
  id: number;
  flow: number;
  flow_name?: string;
  flow_version?: number | null;
  version_number?: number | null;
  trigger: string;
  status: RunStatus;
  attempt: number;
  retry_of?: number | null;
  /** The run that retries this one (run detail only; a run is retried at most once). */
  retried_by?: number | null;
  priority?: number;
  queued_at?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
  error?: string;
  has_warnings?: boolean;
}

export interface Flow {
  id: number;
  name: string;
  description: string;
  enabled: boolean;
  priority: number;
  variables: Record<string, string>;
  max_run_retries: number;
  webhook_url?: string;
  webhook_path?: string;
  deployed_version?: number | null;
  last_run?: RunSummary | null;
  last_run_status?: RunStatus | null;
  updated_at?: string;
}

export interface FlowVersion {
  id: number;
  number: number | null;
  status: "draft" | "deployed" | "inactive";
  comment?: string;
  created_at?: string;
  deployed_at?: string | null;
  deployed_by?: string | number | null;
  graph?: unknown;
}

export interface Draft {
  graph?: unknown;
  shapes?: unknown;
  connections?: unknown;
  updated_at?: string;
}

export type AuthType =
  "none" | "basic" | "bearer" | "api_key_header" | "api_key_query" | "oauth2_client_credentials";

export interface Connector {
  id: number;
  name: string;
  description: string;
  base_url: string;
  auth_type: AuthType;
  username: string;
  api_key_name: string;
  token_url: string;
  client_id: string;
  scope: string;
  default_headers: Record<string, string>;
  timeout: number;
  secrets_set?: string[];
  secret_names?: string[];
}

export interface Endpoint {
  id: number;
  connector: number;
  name: string;
  description: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body_template: string;
  body_format: "json" | "form" | "xml" | "raw";
  pagination: Record<string, unknown>;
  pre_request_script: number | null;
  variables?: string[];
}

export interface ScriptVersionInfo {
  id?: number;
  number: number | null;
  status: "draft" | "deployed" | "inactive";
  deployed_at?: string | null;
  deployed_by?: string | number | null;
  checksum?: string;
  code?: string;
}

export interface Script {
  id: number;
  name: string;
  description: string;
  kind: "general" | "response";
  code: string;
  deployed_version?: number | null;
  latest_version?: number | null;
  versions?: ScriptVersionInfo[];
  updated_at?: string;
}

export interface ScriptTestResult {
  ok: boolean;
  result: unknown;
  logs: string[];
  error: { type?: string; message: string; line?: number | null } | null;
  duration_ms: number;
}

export interface StepAttempt {
  id?: number;
  number: number;
  started_at?: string;
  duration_ms?: number;
  request?: unknown;
  response?: unknown;
  http_status?: number | null;
  outcome?: string;
  response_code?: number | null;
  message?: string;
}

export interface Step {
  id: number;
  shape_id: string;
  shape_name: string;
  shape_type: string;
  input_index: number;
  status: string;
  attempts: number | StepAttempt[];
  connector_attempts?: StepAttempt[];
  started_at: string | null;
  finished_at: string | null;
  http_status?: number | null;
  outputs?: number;
  error?: string;
  payloads?: PayloadInfo[];
}

export interface PayloadInfo {
  id: number;
  direction: "input" | "output";
  index: number;
  size: number;
  meta?: Record<string, string>;
  body?: string | null;
  url?: string;
  download_url?: string;
}

export interface RunDetail extends RunSummary {
  /** Strings are cut to 64 KiB; the `*_truncated` flag says whether that field was cut. */
  input_payload?: string | null;
  input_payload_truncated?: boolean;
  input_meta?: Record<string, string>;
  input_meta_truncated?: boolean;
  variables?: Record<string, string>;
  variables_truncated?: boolean;
  final_payload?: string | null;
  final_payload_truncated?: boolean;
  steps?: Step[];
  insights?: Record<string, unknown>;
}

export interface LogLine {
  seq: number;
  ts: string;
  level: "debug" | "info" | "warning" | "error";
  step: number | null;
  shape_id?: string | null;
  message: string;
  data?: unknown;
}
