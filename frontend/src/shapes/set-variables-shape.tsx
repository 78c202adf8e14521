import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { errorsFor } from "./fields";
import { isBlank } from "./rules";

export interface VariableAssignment {
  name: string;
  value: string;
  scope: "flow" | "meta";
}

export interface SetVariablesSettings {
  variables: VariableAssignment[];
}

function SetVariablesPanel({ shape, onChange, errors, readOnly }: PanelProps<"set_variables">): ReactNode {
  const rows = shape.settings.variables;
  const set = (index: number, patch: Partial<VariableAssignment>): void =>
    onChange({ variables: rows.map((row, i) => (i === index ? { ...row, ...patch } : row)) });
  return (
    <fieldset>
      <legend>Variables</legend>
      {rows.length === 0 ? <div className="hint">No variables yet.</div> : null}
      {rows.map((row, index) => (
        <div className="kv-row kv-row-3" key={index}>
          <input
            aria-label={`Variable ${index + 1} name`}
            placeholder="name"
            value={row.name}
            readOnly={readOnly}
            onChange={(e) => set(index, { name: e.target.value })}
          />
          <input
            aria-label={`Variable ${index + 1} value`}
            className="mono"
            placeholder="[[payload.id]]"
            value={row.value}
            readOnly={readOnly}
            onChange={(e) => set(index, { value: e.target.value })}
          />
          <select
            aria-label={`Variable ${index + 1} scope`}
            value={row.scope}
            disabled={readOnly}
            onChange={(e) => set(index, { scope: e.target.value as VariableAssignment["scope"] })}
          >
            <option value="flow">flow</option>
            <option value="meta">meta</option>
          </select>
          {!readOnly ? (
            <button
              type="button"
              className="icon-button"
              aria-label={`Remove variable ${index + 1}`}
              onClick={() => onChange({ variables: rows.filter((_, i) => i !== index) })}
            >
              ×
            </button>
          ) : null}
        </div>
      ))}
      {!readOnly ? (
        <button
          type="button"
          className="link-button"
          onClick={() => onChange({ variables: [...rows, { name: "", value: "", scope: "flow" }] })}
        >
          + Add variable
        </button>
      ) : null}
      {errorsFor(errors, "variables").map((m) => (
        <div className="field-error" key={m}>
          {m}
        </div>
      ))}
    </fieldset>
  );
}

export const setVariablesShape = defineShape<"set_variables">({
  type: "set_variables",
  color: "var(--shape-set-variables)",
  icon: "𝑥",
  summary: (s) => (s.variables.length === 0 ? "No variables" : s.variables.map((v) => v.name).join(", ")),
  Panel: SetVariablesPanel,
  defaults: () => ({ variables: [] }),
  validate: (s, problem) => {
    if (s.variables.length === 0) problem("variables", "Add at least one variable.");
    s.variables.forEach((variable, index) => {
      if (isBlank(variable.name)) problem(`variables[${index}].name`, "Every variable needs a name.");
    });
  },
});
