import type { ReactNode } from "react";
import type { Endpoint } from "../api/types";
import type { PanelProps } from "./definition";
import { defineShape, nameOf } from "./definition";
import { errorsFor, KeyValueEditor, NumberField, SelectField } from "./fields";
import { ScriptPicker } from "./script-picker";
import { isBlank } from "./rules";

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

/** Variable names an endpoint's templates use (`[[variables.order_id]]`). */
export function endpointVariables(endpoint: Endpoint | undefined): string[] {
  if (!endpoint) return [];
  const text = [
    endpoint.path,
    JSON.stringify(endpoint.query),
    JSON.stringify(endpoint.headers),
    endpoint.body_template,
  ].join(" ");
  const names = new Set<string>();
  for (const match of text.matchAll(/\[\[\s*variables\.([A-Za-z_][A-Za-z0-9_]*)\s*\]\]/g)) {
    if (match[1]) names.add(match[1]);
  }
  return [...names];
}

function ConnectorPanel({ shape, onChange, errors, readOnly, lookups }: PanelProps<"connector">): ReactNode {
  const s = shape.settings;
  const endpoints = lookups.endpoints.filter((e) => e.connector === s.connector);
  const endpoint = endpoints.find((e) => e.id === s.endpoint);
  return (
    <>
      <SelectField<number>
        label="Connector"
        testId="connector-select"
        value={s.connector}
        options={lookups.connectors.map((c) => ({ value: c.id, label: c.name }))}
        emptyLabel="Choose a connector…"
        onChange={(connector) => onChange({ ...s, connector, endpoint: null })}
        errors={errorsFor(errors, "connector")}
        readOnly={readOnly}
        {...(lookups.connectors.length === 0 ? { hint: "No connectors yet: add one under Connectors." } : {})}
      />
      <SelectField<number>
        label="Endpoint"
        testId="endpoint-select"
        value={s.endpoint}
        options={endpoints.map((e) => ({ value: e.id, label: `${e.method} ${e.name}` }))}
        emptyLabel={s.connector === null ? "Choose a connector first" : "Choose an endpoint…"}
        onChange={(value) => onChange({ ...s, endpoint: value })}
        errors={errorsFor(errors, "endpoint")}
        readOnly={readOnly || s.connector === null}
        {...(endpoint ? { hint: `${endpoint.method} ${endpoint.path || "/"}` } : {})}
      />
      <KeyValueEditor
        label="Endpoint variables"
        value={s.variables}
        onChange={(variables) => onChange({ ...s, variables })}
        suggestedKeys={endpointVariables(endpoint)}
        errors={errorsFor(errors, "variables")}
        readOnly={readOnly}
      />
      <div className="field-pair">
        <NumberField
          label="Timeout (s)"
          value={s.timeout}
          nullable
          min={0.1}
          step={0.5}
          placeholder={`Connector's (${lookups.connectors.find((c) => c.id === s.connector)?.timeout ?? 30})`}
          onChange={(timeout) => onChange({ ...s, timeout })}
          errors={errorsFor(errors, "timeout")}
          readOnly={readOnly}
        />
        <NumberField
          label="Retries"
          value={s.retries}
          min={0}
          max={10}
          onChange={(retries) => onChange({ ...s, retries: retries ?? 0 })}
          errors={errorsFor(errors, "retries")}
          readOnly={readOnly}
        />
      </div>
      <div className="field-pair">
        <NumberField
          label="Retry delay (s)"
          value={s.retry_delay}
          nullable
          min={0}
          placeholder="Default"
          onChange={(retry_delay) => onChange({ ...s, retry_delay })}
          errors={errorsFor(errors, "retry_delay")}
          readOnly={readOnly}
        />
        <NumberField
          label="Max pages"
          value={s.max_pages}
          min={1}
          max={1000}
          onChange={(max_pages) => onChange({ ...s, max_pages: max_pages ?? 100 })}
          errors={errorsFor(errors, "max_pages")}
          readOnly={readOnly}
        />
      </div>
      <ScriptPicker
        label="Response script"
        testId="response-script-select"
        scripts={lookups.deployedScripts}
        script={s.response_script}
        version={s.response_script_version}
        emptyLabel="None (2xx continues, 408/429/5xx retry)"
        onChange={(response_script, response_script_version) =>
          onChange({ ...s, response_script, response_script_version })
        }
        scriptErrors={errorsFor(errors, "response_script")}
        versionErrors={errorsFor(errors, "response_script_version")}
        readOnly={readOnly}
      />
    </>
  );
}

export const connectorShape = defineShape<"connector">({
  type: "connector",
  color: "var(--shape-connector)",
  icon: "⇄",
  summary: (s, l) => {
    if (s.connector === null) return "No connector chosen";
    const endpoint = l.endpoints.find((e) => e.id === s.endpoint);
    return `${nameOf(l.connectors, s.connector)}${endpoint ? ` · ${endpoint.method} ${endpoint.name}` : ""}`;
  },
  Panel: ConnectorPanel,
  defaults: () => ({
    connector: null,
    endpoint: null,
    variables: {},
    timeout: null,
    retries: 0,
    retry_delay: null,
    response_script: null,
    response_script_version: null,
    max_pages: 100,
  }),
  validate: (s, problem) => {
    if (isBlank(s.connector)) problem("connector", "Choose a connector.");
    if (isBlank(s.endpoint)) problem("endpoint", "Choose an endpoint.");
    if (s.retries < 0 || s.retries > 10) problem("retries", "Retries must be 0 to 10.");
    if (s.max_pages < 1 || s.max_pages > 1000) problem("max_pages", "Max pages must be 1 to 1000.");
  },
});
