/** The form of one connector: base URL, authentication with its write-only secret, default headers. */
import { useEffect, useState } from "react";
import type { ReactNode } from "react";
import { ApiError, errorMessage } from "../../api/client";
import {
  copyConnector,
  deleteConnector,
  getConnector,
  listEndpoints,
  saveConnector,
} from "../../api/connectors";
import type { ConnectorFields, ConnectorInput } from "../../api/connectors";
import type { AuthType, Connector, Endpoint } from "../../api/types";
import { ConflictDialog } from "../../components/conflict-dialog";
import { RefusalNotice, usersOf } from "../../components/item-actions";
import type { Refusal } from "../../components/item-actions";
import { Notice } from "../../components/ui";
import { KeyValueEditor, NumberField, SelectField, TextField } from "../../shapes/fields";
import { useCanWrite } from "../../session";
import { ConnectionTest } from "./connection-test";
import { EndpointList } from "./endpoint-list";
import { AUTH_TYPES, EMPTY_CONNECTOR, secretOf } from "./options";

export function ConnectorForm({
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
  const [draft, setDraft] = useState<ConnectorFields>(connector ?? EMPTY_CONNECTOR);
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [endpoints, setEndpoints] = useState<Endpoint[] | null>(null);
  /** The current revision when a save met a newer one saved elsewhere. */
  const [conflict, setConflict] = useState<number | null>(null);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const secretInfo = secretOf(draft.auth_type);
  const setSecrets = connector?.secrets_set ?? [];

  useEffect(() => {
    setDraft(connector ?? EMPTY_CONNECTOR);
    setSecret("");
    setError(null);
    setConflict(null);
    setRefusal(null);
    if (connector) {
      listEndpoints(connector.id)
        .then(setEndpoints)
        .catch((e: unknown) => setError(errorMessage(e)));
    } else {
      setEndpoints(null);
    }
  }, [connector]);

  const save = async (basedOn?: number): Promise<void> => {
    const {
      id: _id,
      created_at: _created,
      updated_at: _updated,
      secrets_set: _set,
      ...fields
    } = {
      ...EMPTY_CONNECTOR,
      ...draft,
    } as Connector;
    const body: ConnectorInput = { ...fields };
    if (basedOn !== undefined) body.revision = basedOn;
    if (secretInfo && secret !== "") body[secretInfo.name] = secret;
    try {
      const result = await saveConnector(connector ? connector.id : null, body);
      setSecret("");
      setConflict(null);
      onSaved(result);
    } catch (e) {
      if (e instanceof ApiError && e.isStaleRevision && e.currentRevision !== null) {
        setConflict(e.currentRevision);
      } else {
        setError(errorMessage(e));
      }
    }
  };

  const reload = async (): Promise<void> => {
    if (!connector) return;
    try {
      setDraft(await getConnector(connector.id));
      setSecret("");
      setConflict(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const remove = async (): Promise<void> => {
    if (!connector || !window.confirm(`Delete the connector ${connector.name}?`)) return;
    try {
      await deleteConnector(connector.id);
      onDeleted();
    } catch (e) {
      // Refused while flows use it: name them, with links.
      if (e instanceof ApiError && e.status === 409) setRefusal({ detail: e.message, flows: usersOf(e) });
      else setError(errorMessage(e));
    }
  };

  const duplicate = async (): Promise<void> => {
    if (!connector) return;
    try {
      onSaved(await copyConnector(connector.id));
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <div className="connector-form">
      <h2>{connector ? connector.name : "New connector"}</h2>
      {conflict !== null ? (
        <ConflictDialog
          what="This connector"
          revision={conflict}
          onReload={() => void reload()}
          onOverwrite={() => void save(conflict)}
        />
      ) : null}
      {error ? (
        <Notice kind="error" onClose={() => setError(null)}>
          {error}
        </Notice>
      ) : null}
      <RefusalNotice refusal={refusal} onClose={() => setRefusal(null)} />
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
              <>
                <button type="button" className="danger" onClick={() => void remove()}>
                  Delete
                </button>
                <button type="button" onClick={() => void duplicate()}>
                  Duplicate
                </button>
              </>
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
        <EndpointList
          connector={connector}
          endpoints={endpoints}
          setEndpoints={setEndpoints}
          onError={setError}
          readOnly={readOnly}
        />
      ) : null}
    </div>
  );
}
