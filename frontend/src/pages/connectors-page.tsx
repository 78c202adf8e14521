/** Connectors and their endpoints: forms for every auth type; secrets are write-only. */
import { useCallback, useEffect, useState } from "react";
import type { ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, errorMessage, getAll } from "../api/client";
import type { AuthType, Connector, Endpoint } from "../api/types";
import { Empty, Loading, Notice } from "../components/ui";
import { KeyValueEditor, NumberField, SelectField, TextField } from "../shapes/fields";
import { useCanWrite } from "../session";

const AUTH_TYPES: { value: AuthType; label: string }[] = [
  { value: "none", label: "None" },
  { value: "basic", label: "Basic (user name + password)" },
  { value: "bearer", label: "Bearer token" },
  { value: "api_key_header", label: "API key in a header" },
  { value: "api_key_query", label: "API key in the query" },
  { value: "oauth2_client_credentials", label: "OAuth2 client credentials" },
];

/** The write-only secret each auth type needs. */
const SECRET_OF: Record<
  AuthType,
  { name: "password" | "token" | "api_key" | "client_secret"; label: string } | null
> = {
  none: null,
  basic: { name: "password", label: "Password" },
  bearer: { name: "token", label: "Token" },
  api_key_header: { name: "api_key", label: "API key" },
  api_key_query: { name: "api_key", label: "API key" },
  oauth2_client_credentials: { name: "client_secret", label: "Client secret" },
};

const EMPTY_CONNECTOR: Omit<Connector, "id"> = {
  name: "",
  description: "",
  base_url: "https://",
  auth_type: "none",
  username: "",
  api_key_name: "",
  token_url: "",
  client_id: "",
  scope: "",
  default_headers: {},
  timeout: 30,
};

type EndpointDraft = Omit<Endpoint, "id"> & { id?: number };

function emptyEndpoint(connector: number): EndpointDraft {
  return {
    connector,
    name: "",
    description: "",
    method: "GET",
    path: "/",
    query: {},
    headers: {},
    body_template: "",
    body_format: "json",
    pagination: {},
    pre_request_script: null,
  };
}

const PAGINATION_STYLES = [
  "none",
  "page_number",
  "offset_limit",
  "next_url",
  "link_header",
  "cursor",
] as const;
const PAGINATION_FIELDS: Record<string, string[]> = {
  none: [],
  page_number: ["page_param", "size_param", "page_size", "start", "items_path"],
  offset_limit: ["offset_param", "limit_param", "limit", "start", "items_path"],
  next_url: ["next_path", "items_path"],
  link_header: ["items_path"],
  cursor: ["cursor_param", "cursor_path", "items_path"],
};
const NUMERIC_OPTIONS = new Set(["page_size", "limit", "start", "max_pages"]);

function EndpointForm({
  value,
  onSaved,
  onCancel,
  readOnly,
}: {
  value: EndpointDraft;
  onSaved: (e: Endpoint) => void;
  onCancel: () => void;
  readOnly: boolean;
}): ReactNode {
  const [draft, setDraft] = useState<EndpointDraft>(value);
  const [error, setError] = useState<string | null>(null);
  const style = String(draft.pagination.style ?? "none");
  const save = async (): Promise<void> => {
    try {
      const saved = draft.id
        ? await api.put<Endpoint>(`/api/endpoints/${draft.id}/`, draft)
        : await api.post<Endpoint>("/api/endpoints/", draft);
      onSaved(saved);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <div className="card endpoint-form">
      <h3>{draft.id ? `Endpoint ${value.name}` : "New endpoint"}</h3>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="field-pair">
        <TextField
          label="Name"
          value={draft.name}
          onChange={(name) => setDraft({ ...draft, name })}
          readOnly={readOnly}
        />
        <SelectField<string>
          label="Method"
          value={draft.method}
          options={["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].map((m) => ({ value: m, label: m }))}
          onChange={(method) => setDraft({ ...draft, method: method ?? "GET" })}
          readOnly={readOnly}
        />
      </div>
      <TextField
        label="Path"
        mono
        value={draft.path}
        hint="Template, e.g. /orders/[[variables.order_id]]"
        onChange={(path) => setDraft({ ...draft, path })}
        readOnly={readOnly}
      />
      <KeyValueEditor
        label="Query"
        value={draft.query}
        onChange={(query) => setDraft({ ...draft, query })}
        readOnly={readOnly}
      />
      <KeyValueEditor
        label="Headers"
        value={draft.headers}
        onChange={(headers) => setDraft({ ...draft, headers })}
        readOnly={readOnly}
      />
      <SelectField<Endpoint["body_format"]>
        label="Body format"
        value={draft.body_format}
        options={[
          { value: "json", label: "JSON" },
          { value: "form", label: "Form" },
          { value: "xml", label: "XML" },
          { value: "raw", label: "Raw" },
        ]}
        onChange={(body_format) => setDraft({ ...draft, body_format: body_format ?? "json" })}
        readOnly={readOnly}
      />
      <TextField
        label="Body template"
        multiline
        mono
        value={draft.body_template}
        hint="Empty: the payload is the body."
        onChange={(body_template) => setDraft({ ...draft, body_template })}
        readOnly={readOnly}
      />
      <SelectField<string>
        label="Pagination"
        value={style}
        options={PAGINATION_STYLES.map((s) => ({ value: s, label: s.replace("_", " ") }))}
        onChange={(next) =>
          setDraft({ ...draft, pagination: next === "none" || next === null ? {} : { style: next } })
        }
        readOnly={readOnly}
      />
      {(PAGINATION_FIELDS[style] ?? []).map((option) => (
        <TextField
          key={option}
          label={option.replaceAll("_", " ")}
          mono
          value={draft.pagination[option] === undefined ? "" : String(draft.pagination[option])}
          onChange={(text) => {
            const pagination = { ...draft.pagination };
            if (text === "") delete pagination[option];
            else pagination[option] = NUMERIC_OPTIONS.has(option) && /^\d+$/.test(text) ? Number(text) : text;
            setDraft({ ...draft, pagination });
          }}
          readOnly={readOnly}
        />
      ))}
      {!readOnly ? (
        <div className="modal-actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="button" className="primary" onClick={() => void save()} disabled={!draft.name.trim()}>
            Save endpoint
          </button>
        </div>
      ) : null}
    </div>
  );
}

/** The answer of `POST /api/connectors/{id}/test/`. */
interface ConnectionTestResult {
  ok: boolean;
  status: number | null;
  duration_ms: number;
  error: string | null;
  body_excerpt: string;
}

/** Sends one real request with the saved connector settings and shows what came back. */
function ConnectionTest({
  connector,
  endpoints,
}: {
  connector: Connector;
  endpoints: Endpoint[];
}): ReactNode {
  const [endpoint, setEndpoint] = useState<number | null>(null);
  const [variables, setVariables] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ConnectionTestResult | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    setEndpoint(null);
    setVariables({});
    setResult(null);
    setFailure(null);
  }, [connector]);

  const run = async (): Promise<void> => {
    setBusy(true);
    setFailure(null);
    setResult(null);
    try {
      setResult(
        await api.post<ConnectionTestResult>(`/api/connectors/${connector.id}/test/`, {
          endpoint,
          variables,
        }),
      );
    } catch (e) {
      setFailure(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card connection-test">
      <h3>Test connection</h3>
      <div className="hint">Sends one real request with the saved settings (save your changes first).</div>
      <SelectField<number>
        label="Request"
        value={endpoint}
        options={endpoints.map((e) => ({ value: e.id, label: `${e.name} (${e.method} ${e.path})` }))}
        emptyLabel={`GET ${connector.base_url}`}
        onChange={(value) => setEndpoint(value ?? null)}
      />
      {endpoint !== null ? (
        <KeyValueEditor
          label="Variables"
          value={variables}
          onChange={setVariables}
          valuePlaceholder="value"
        />
      ) : null}
      <div className="modal-actions">
        <button type="button" onClick={() => void run()} disabled={busy}>
          {busy ? "Testing…" : "Test connection"}
        </button>
      </div>
      {failure ? <Notice kind="error">{failure}</Notice> : null}
      {result ? (
        <div className="connection-test-result" data-testid="connection-test-result">
          <Notice kind={result.ok ? "success" : "error"}>
            {result.ok ? "Connected" : "Failed"}
            {" — "}
            {result.status !== null ? `HTTP ${result.status}` : "no response"}
            {` in ${result.duration_ms.toFixed(0)} ms`}
            {result.error ? `: ${result.error}` : ""}
          </Notice>
          {result.body_excerpt ? <pre className="payload">{result.body_excerpt}</pre> : null}
        </div>
      ) : null}
    </section>
  );
}

function ConnectorForm({
  connector,
  onSaved,
  onDeleted,
  saved,
}: {
  connector: Connector | null;
  onSaved: (c: Connector) => void;
  onDeleted: () => void;
  saved: string | null;
}): ReactNode {
  const canWrite = useCanWrite();
  const readOnly = !canWrite;
  const [draft, setDraft] = useState<Omit<Connector, "id">>(connector ?? EMPTY_CONNECTOR);
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [endpoints, setEndpoints] = useState<Endpoint[] | null>(null);
  const [editing, setEditing] = useState<EndpointDraft | null>(null);
  const secretInfo = SECRET_OF[draft.auth_type];
  const setSecrets = connector?.secrets_set ?? connector?.secret_names ?? [];

  useEffect(() => {
    setDraft(connector ?? EMPTY_CONNECTOR);
    setSecret("");
    setEditing(null);
    setError(null);
    if (connector) {
      getAll<Endpoint>(`/api/endpoints/?connector=${connector.id}`)
        .then(setEndpoints)
        .catch((e: unknown) => setError(errorMessage(e)));
    } else {
      setEndpoints(null);
    }
  }, [connector]);

  const save = async (): Promise<void> => {
    const body: Record<string, unknown> = { ...draft };
    delete body.secrets_set;
    delete body.secret_names;
    if (secretInfo && secret !== "") body[secretInfo.name] = secret;
    try {
      const result = connector
        ? await api.put<Connector>(`/api/connectors/${connector.id}/`, body)
        : await api.post<Connector>("/api/connectors/", body);
      setSecret("");
      onSaved(result);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const remove = async (): Promise<void> => {
    if (!connector || !window.confirm(`Delete the connector ${connector.name}?`)) return;
    try {
      await api.delete(`/api/connectors/${connector.id}/`);
      onDeleted();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const removeEndpoint = async (endpoint: Endpoint): Promise<void> => {
    if (!window.confirm(`Delete the endpoint ${endpoint.name}?`)) return;
    try {
      await api.delete(`/api/endpoints/${endpoint.id}/`);
      setEndpoints((list) => (list ?? []).filter((e) => e.id !== endpoint.id));
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <div className="connector-form">
      <h2>{connector ? connector.name : "New connector"}</h2>
      {error ? (
        <Notice kind="error" onClose={() => setError(null)}>
          {error}
        </Notice>
      ) : null}
      {saved ? <Notice kind="success">{saved}</Notice> : null}
      <div className="card">
        <div className="field-pair">
          <TextField
            label="Name"
            value={draft.name}
            onChange={(name) => setDraft({ ...draft, name })}
            readOnly={readOnly}
          />
          <NumberField
            label="Timeout (s)"
            value={draft.timeout}
            min={0.1}
            step={0.5}
            onChange={(timeout) => setDraft({ ...draft, timeout: timeout ?? 30 })}
            readOnly={readOnly}
          />
        </div>
        <TextField
          label="Base URL"
          mono
          value={draft.base_url}
          onChange={(base_url) => setDraft({ ...draft, base_url })}
          readOnly={readOnly}
        />
        <TextField
          label="Description"
          value={draft.description}
          onChange={(description) => setDraft({ ...draft, description })}
          readOnly={readOnly}
        />
        <SelectField<AuthType>
          label="Authentication"
          value={draft.auth_type}
          options={AUTH_TYPES}
          onChange={(auth_type) => {
            setDraft({ ...draft, auth_type: auth_type ?? "none" });
            setSecret("");
          }}
          readOnly={readOnly}
        />
        {draft.auth_type === "basic" ? (
          <TextField
            label="User name"
            value={draft.username}
            onChange={(username) => setDraft({ ...draft, username })}
            readOnly={readOnly}
          />
        ) : null}
        {draft.auth_type === "api_key_header" || draft.auth_type === "api_key_query" ? (
          <TextField
            label={draft.auth_type === "api_key_header" ? "Header name" : "Query parameter name"}
            value={draft.api_key_name}
            onChange={(api_key_name) => setDraft({ ...draft, api_key_name })}
            readOnly={readOnly}
          />
        ) : null}
        {draft.auth_type === "oauth2_client_credentials" ? (
          <>
            <TextField
              label="Token URL"
              mono
              value={draft.token_url}
              onChange={(token_url) => setDraft({ ...draft, token_url })}
              readOnly={readOnly}
            />
            <div className="field-pair">
              <TextField
                label="Client id"
                value={draft.client_id}
                onChange={(client_id) => setDraft({ ...draft, client_id })}
                readOnly={readOnly}
              />
              <TextField
                label="Scope"
                value={draft.scope}
                onChange={(scope) => setDraft({ ...draft, scope })}
                readOnly={readOnly}
              />
            </div>
          </>
        ) : null}
        {secretInfo && !readOnly ? (
          <div className="field">
            <label htmlFor="connector-secret">{secretInfo.label}</label>
            <input
              id="connector-secret"
              type="password"
              autoComplete="new-password"
              value={secret}
              placeholder={
                setSecrets.includes(secretInfo.name) ? "•••••• set (leave empty to keep)" : "not set"
              }
              onChange={(e) => setSecret(e.target.value)}
            />
            <div className="hint">Write-only: stored encrypted and never shown again.</div>
          </div>
        ) : null}
        <KeyValueEditor
          label="Default headers"
          value={draft.default_headers}
          onChange={(default_headers) => setDraft({ ...draft, default_headers })}
          readOnly={readOnly}
          valuePlaceholder="value"
        />
        {!readOnly ? (
          <div className="modal-actions">
            {connector ? (
              <button type="button" className="danger" onClick={() => void remove()}>
                Delete
              </button>
            ) : null}
            <button
              type="button"
              className="primary"
              onClick={() => void save()}
              disabled={!draft.name.trim()}
            >
              {connector ? "Save connector" : "Create connector"}
            </button>
          </div>
        ) : null}
      </div>
      {connector && !readOnly ? <ConnectionTest connector={connector} endpoints={endpoints ?? []} /> : null}
      {connector ? (
        <section>
          <div className="page-head">
            <h2>Endpoints</h2>
            {!readOnly && !editing ? (
              <button type="button" onClick={() => setEditing(emptyEndpoint(connector.id))}>
                Add endpoint
              </button>
            ) : null}
          </div>
          {editing ? (
            <EndpointForm
              key={editing.id ?? "new"}
              value={editing}
              readOnly={readOnly}
              onCancel={() => setEditing(null)}
              onSaved={(endpoint) => {
                setEndpoints((list) => {
                  const rest = (list ?? []).filter((e) => e.id !== endpoint.id);
                  return [...rest, endpoint].sort((a, b) => a.name.localeCompare(b.name));
                });
                setEditing(null);
              }}
            />
          ) : null}
          {endpoints === null ? (
            <Loading />
          ) : endpoints.length === 0 ? (
            <Empty title="No endpoints yet">
              An endpoint is one operation of this connector, e.g. GET /orders/[[variables.id]].
            </Empty>
          ) : (
            <table className="table">
              <tbody>
                {endpoints.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <strong>{e.name}</strong>
                    </td>
                    <td>
                      <code>
                        {e.method} {e.path}
                      </code>
                    </td>
                    <td>
                      {e.pagination.style && e.pagination.style !== "none" ? String(e.pagination.style) : ""}
                    </td>
                    <td className="actions">
                      <button type="button" className="small" onClick={() => setEditing(e)}>
                        {readOnly ? "View" : "Edit"}
                      </button>
                      {!readOnly ? (
                        <button type="button" className="small danger" onClick={() => void removeEndpoint(e)}>
                          Delete
                        </button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
    </div>
  );
}

export function ConnectorsPage(): ReactNode {
  const { connectorId } = useParams();
  const navigate = useNavigate();
  const canWrite = useCanWrite();
  const [connectors, setConnectors] = useState<Connector[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [flash, setFlash] = useState<{ id: number; text: string } | null>(null);

  const load = useCallback(async () => {
    try {
      setConnectors(await getAll<Connector>("/api/connectors/"));
    } catch (e) {
      setError(errorMessage(e));
      setConnectors([]);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const isNew = connectorId === "new";
  const selected = connectors?.find((c) => String(c.id) === connectorId) ?? null;
  return (
    <div className="page connectors-page">
      <div className="page-head">
        <h1>Connectors</h1>
        {canWrite ? (
          <Link to="/connectors/new" className="button primary">
            New connector
          </Link>
        ) : null}
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="master-detail">
        <nav className="master" aria-label="Connectors">
          {connectors === null ? (
            <Loading />
          ) : connectors.length === 0 ? (
            <Empty title="No connectors yet">
              A connector holds the base URL and credentials of an external system.
            </Empty>
          ) : (
            <ul>
              {connectors.map((c) => (
                <li key={c.id}>
                  <Link
                    to={`/connectors/${c.id}`}
                    className={String(c.id) === connectorId ? "active" : undefined}
                  >
                    <strong>{c.name}</strong>
                    <span className="hint">{c.base_url}</span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </nav>
        <div className="detail">
          {isNew || selected ? (
            <ConnectorForm
              connector={isNew ? null : selected}
              saved={flash && flash.id === selected?.id && !isNew ? flash.text : null}
              onSaved={(c) => {
                setFlash({ id: c.id, text: "Connector saved." });
                void load();
                navigate(`/connectors/${c.id}`);
              }}
              onDeleted={() => {
                void load();
                navigate("/connectors");
              }}
            />
          ) : (
            <Empty title="Choose a connector">{canWrite ? "Or create a new one." : ""}</Empty>
          )}
        </div>
      </div>
    </div>
  );
}
