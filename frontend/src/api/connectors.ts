/** The connector and endpoint resources, and the connection test. Secrets are write-only. */
import { api, getAll } from "./client";
import type { SECRET_FIELDS } from "./server-lists";
import type { Connector, Endpoint } from "./types";

/** What the connector form edits (the server sets the rest). */
export type ConnectorFields = Omit<
  Connector,
  "id" | "created_at" | "updated_at" | "secrets_set" | "revision"
> & {
  revision?: number;
};
/** A connector write: its fields plus, optionally, the secret of its auth type (`password`, `token` ...). */
export type ConnectorInput = ConnectorFields & Partial<Record<(typeof SECRET_FIELDS)[number], string>>;
export type EndpointDraft = Omit<Endpoint, "id" | "created_at" | "updated_at"> & { id?: number };

export const listConnectors = (): Promise<Connector[]> => getAll<Connector>("/api/connectors/");

/** Create (no id) or replace connector `id`; `body` may carry the secret of its auth type, and carries the
 * `revision` it is based on (a stale one is an ApiError with `isStaleRevision`). */
export const saveConnector = (id: number | null, body: ConnectorInput): Promise<Connector> =>
  id !== null
    ? api.put<Connector>(`/api/connectors/${id}/`, body)
    : api.post<Connector>("/api/connectors/", body);

export const getConnector = (id: number): Promise<Connector> => api.get<Connector>(`/api/connectors/${id}/`);

export const deleteConnector = (id: number): Promise<unknown> => api.delete(`/api/connectors/${id}/`);

/** A copy with the same settings, secrets and endpoints, named "<name> (copy)". */
export const copyConnector = (id: number): Promise<Connector> =>
  api.post<Connector>(`/api/connectors/${id}/duplicate/`, {});

export const listEndpoints = (connectorId: number): Promise<Endpoint[]> =>
  getAll<Endpoint>(`/api/endpoints/?connector=${connectorId}`);

export const saveEndpoint = (draft: EndpointDraft): Promise<Endpoint> =>
  draft.id
    ? api.put<Endpoint>(`/api/endpoints/${draft.id}/`, draft)
    : api.post<Endpoint>("/api/endpoints/", draft);

export const deleteEndpoint = (id: number): Promise<unknown> => api.delete(`/api/endpoints/${id}/`);

/** The answer of `POST /api/connectors/{id}/test/`. */
export interface ConnectionTestResult {
  ok: boolean;
  status: number | null;
  duration_ms: number;
  error: string | null;
  body_excerpt: string;
}

export const testConnection = (
  connectorId: number,
  request: { endpoint: number | null; variables: Record<string, string> },
): Promise<ConnectionTestResult> =>
  api.post<ConnectionTestResult>(`/api/connectors/${connectorId}/test/`, request);
