/** The form of one endpoint: method, path, query, headers, body and pagination. */
import { useState } from "react";
import type { ReactNode } from "react";
import { errorMessage } from "../../api/client";
import { saveEndpoint } from "../../api/connectors";
import type { EndpointDraft } from "../../api/connectors";
import type { Endpoint } from "../../api/types";
import { Notice } from "../../components/ui";
import { KeyValueEditor, SelectField, TextField } from "../../shapes/fields";
import { BODY_FORMATS, METHODS, NUMERIC_OPTIONS, paginationFields, PAGINATION_STYLES } from "./options";

export function EndpointForm({
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
      const saved = await saveEndpoint(draft);
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
        <SelectField<Endpoint["method"]>
          label="Method"
          value={draft.method}
          options={METHODS}
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
        options={BODY_FORMATS}
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
      {paginationFields(style).map((option) => (
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
