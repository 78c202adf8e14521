import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { TRANSFORMS as SERVER_TRANSFORMS } from "../api/server-lists";
import { defineShape } from "./definition";
import { errorsFor, SelectField } from "./fields";
import { ScriptPicker } from "./script-picker";
import { isBlank } from "./rules";

/** The value transforms the server applies (generated from its shape types). */
export const TRANSFORMS = SERVER_TRANSFORMS;

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

function MapPanel({ shape, onChange, errors, readOnly, lookups }: PanelProps<"map">): ReactNode {
  const s = shape.settings;
  const setMapping = (index: number, patch: Partial<Mapping>): void =>
    onChange({ ...s, mappings: s.mappings.map((m, i) => (i === index ? { ...m, ...patch } : m)) });
  return (
    <>
      <SelectField<"new" | "merge">
        label="Output"
        value={s.output}
        options={[
          { value: "new", label: "A new object" },
          { value: "merge", label: "The input object, with these fields set" },
        ]}
        onChange={(output) => onChange({ ...s, output: output ?? "new" })}
        readOnly={readOnly}
      />
      <fieldset>
        <legend>Mappings</legend>
        {s.mappings.length === 0 ? <div className="hint">No mappings yet.</div> : null}
        {s.mappings.map((mapping, index) => (
          <div className="mapping" key={index}>
            <div className="mapping-row">
              <input
                aria-label={`Mapping ${index + 1} source`}
                className="mono"
                placeholder="source (JMESPath)"
                value={mapping.source}
                readOnly={readOnly}
                onChange={(e) => setMapping(index, { source: e.target.value })}
              />
              <span aria-hidden>→</span>
              <input
                aria-label={`Mapping ${index + 1} target`}
                className="mono"
                placeholder="target.field"
                value={mapping.target}
                readOnly={readOnly}
                onChange={(e) => setMapping(index, { target: e.target.value })}
              />
              <select
                aria-label={`Mapping ${index + 1} transform`}
                value={mapping.transform}
                disabled={readOnly}
                onChange={(e) => {
                  const transform = e.target.value as Transform;
                  setMapping(
                    index,
                    transform === "script" ? { transform, script: null, version: null } : { transform },
                  );
                }}
              >
                {TRANSFORMS.map((t) => (
                  <option key={t} value={t}>
                    {t}
                  </option>
                ))}
              </select>
              {!readOnly ? (
                <button
                  type="button"
                  className="icon-button"
                  aria-label={`Remove mapping ${index + 1}`}
                  onClick={() => onChange({ ...s, mappings: s.mappings.filter((_, i) => i !== index) })}
                >
                  ×
                </button>
              ) : null}
            </div>
            <input
              aria-label={`Mapping ${index + 1} default`}
              className="mono"
              placeholder="default when missing (optional)"
              value={mapping.default === undefined || mapping.default === null ? "" : String(mapping.default)}
              readOnly={readOnly}
              onChange={(e) => {
                const next = { ...mapping };
                if (e.target.value === "") delete next.default;
                else next.default = e.target.value;
                onChange({ ...s, mappings: s.mappings.map((m, i) => (i === index ? next : m)) });
              }}
            />
            {mapping.transform === "script" ? (
              <ScriptPicker
                label="Transform script"
                scripts={lookups.deployedScripts}
                script={mapping.script ?? null}
                version={mapping.version ?? null}
                emptyLabel="Choose a script…"
                onChange={(script, version) => setMapping(index, { script, version })}
                scriptErrors={errorsFor(errors, `mappings[${index}].script`)}
                readOnly={readOnly}
              />
            ) : null}
          </div>
        ))}
        {!readOnly ? (
          <button
            type="button"
            className="link-button"
            onClick={() =>
              onChange({ ...s, mappings: [...s.mappings, { source: "", target: "", transform: "none" }] })
            }
          >
            + Add mapping
          </button>
        ) : null}
        {errorsFor(errors, "mappings").map((m) => (
          <div className="field-error" key={m}>
            {m}
          </div>
        ))}
      </fieldset>
    </>
  );
}

export const mapShape = defineShape<"map">({
  type: "map",
  color: "var(--shape-map)",
  icon: "⇢",
  summary: (s) => `${s.mappings.length} mapping${s.mappings.length === 1 ? "" : "s"}`,
  Panel: MapPanel,
  defaults: () => ({ mappings: [], output: "new" }),
  validate: (s, problem) => {
    if (s.mappings.length === 0) problem("mappings", "Add at least one mapping.");
    s.mappings.forEach((mapping, index) => {
      if (isBlank(mapping.source)) problem(`mappings[${index}].source`, "Every mapping needs a source path.");
      if (isBlank(mapping.target))
        problem(`mappings[${index}].target`, "Every mapping needs a target field.");
      if (mapping.transform === "script" && isBlank(mapping.script)) {
        problem(`mappings[${index}].script`, "A script transform needs a script.");
      }
    });
  },
});
