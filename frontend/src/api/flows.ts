/** The flow resource: settings, the draft graph, versions, deploy / validate and starting a run. */
import { api, ApiError } from "./client";
import type { Flow, FlowVersion, FlowVersionDetail, RunGraph } from "./types";
import type { FlowGraph, GraphError } from "../shapes/types";

/** `GET/PUT /api/flows/{id}/draft/` and `POST .../versions/{n}/restore/`: the graph plus its known problems. */
export interface DraftBody {
  shapes: unknown[];
  connections: unknown[];
  errors?: GraphError[];
  /** The draft's revision: a save carries the one it was based on (a stale one gets 409). */
  revision?: number;
  updated_at?: string;
  /** What Run now runs (null: never deployed), and whether the draft would run differently. */
  deployed_version?: number | null;
  differs_from_deployed?: boolean;
}

export type FlowSettings = Pick<Flow, "description" | "variables" | "max_run_retries">;

export const getFlow = (flowId: number): Promise<Flow> => api.get<Flow>(`/api/flows/${flowId}/`);

export const updateFlow = (flowId: number, settings: Partial<FlowSettings>): Promise<Flow> =>
  api.patch<Flow>(`/api/flows/${flowId}/`, settings);

export const getDraft = (flowId: number): Promise<DraftBody> =>
  api.get<DraftBody>(`/api/flows/${flowId}/draft/`);

export const putDraft = (flowId: number, graph: FlowGraph, revision?: number | null): Promise<DraftBody> =>
  api.put<DraftBody>(`/api/flows/${flowId}/draft/`, revision ? { ...graph, revision } : graph);

export const deployFlow = (flowId: number): Promise<{ version: number }> =>
  api.post<{ version: number }>(`/api/flows/${flowId}/deploy/`, {});

export const validateFlow = (flowId: number, graph: FlowGraph): Promise<unknown> =>
  api.post(`/api/flows/${flowId}/validate/`, graph);

export const listFlowVersions = (flowId: number): Promise<FlowVersion[]> =>
  api.get<FlowVersion[]>(`/api/flows/${flowId}/versions/`);

/** `GET /api/flows/{id}/versions/{n}/`: one version with the graph it runs. */
export const getFlowVersion = (flowId: number, number: number): Promise<FlowVersionDetail> =>
  api.get<FlowVersionDetail>(`/api/flows/${flowId}/versions/${number}/`);

/** The graph a run of this flow executes: a test run's draft snapshot, a real run's flow version. */
export const getRunGraph = (runId: number): Promise<RunGraph> =>
  api.get<RunGraph>(`/api/runs/${runId}/graph/`);

export const restoreFlowVersion = (flowId: number, number: number): Promise<DraftBody> =>
  api.post<DraftBody>(`/api/flows/${flowId}/versions/${number}/restore/`);

export interface StartRunInput {
  payload?: string | null;
  variables?: Record<string, string>;
}

export const startFlowRun = (flowId: number, input: StartRunInput): Promise<{ id: number }> => {
  const body: Record<string, unknown> = { variables: input.variables ?? {} };
  if (input.payload !== null && input.payload !== undefined) body.payload = input.payload;
  return api.post<{ id: number }>(`/api/flows/${flowId}/runs/`, body);
};

/** A test run of the draft as it is on the server (not deployed); 400 lists the draft's problems. */
export const startTestRun = (flowId: number, input: StartRunInput): Promise<{ id: number }> => {
  const body: Record<string, unknown> = { variables: input.variables ?? {} };
  if (input.payload !== null && input.payload !== undefined) body.payload = input.payload;
  return api.post<{ id: number }>(`/api/flows/${flowId}/test-run/`, body);
};

/** The shape-level errors of a refused deploy, validate or save (`{"shape", "setting", "message"}` items). */
export function graphErrorsOf(error: unknown): GraphError[] {
  if (!(error instanceof ApiError)) return [];
  return error.errors
    .filter((e) => "shape" in e || "setting" in e)
    .map((e) => ({
      shape: (e.shape as string | null) ?? null,
      setting: (e.setting as string | null) ?? null,
      message: e.message,
    }));
}
