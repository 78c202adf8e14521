import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape, nameOf } from "./definition";
import { CheckboxField, errorsFor, SelectField } from "./fields";
import { isBlank } from "./rules";

export interface RunFlowSettings {
  flow: number | null;
  pass_payload: boolean;
}

function RunFlowPanel({ shape, onChange, errors, readOnly, lookups }: PanelProps<"run_flow">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <SelectField<number>
        label="Flow to run"
        value={s.flow}
        options={lookups.flows.map((f) => ({ value: f.id, label: f.name }))}
        emptyLabel="Choose a flow…"
        onChange={(flow) => onChange({ ...s, flow })}
        errors={errorsFor(errors, "flow")}
        hint="It must be deployed and enabled when this shape runs."
        readOnly={readOnly}
      />
      <CheckboxField
        label="Pass this payload as its input"
        checked={s.pass_payload}
        onChange={(pass_payload) => onChange({ ...s, pass_payload })}
        readOnly={readOnly}
      />
    </>
  );
}

export const runFlowShape = defineShape<"run_flow">({
  type: "run_flow",
  color: "var(--shape-run-flow)",
  icon: "↪",
  summary: (s, l) => (s.flow === null ? "No flow chosen" : nameOf(l.flows, s.flow)),
  Panel: RunFlowPanel,
  defaults: () => ({ flow: null, pass_payload: true }),
  validate: (s, problem) => {
    if (isBlank(s.flow)) problem("flow", "Choose the flow to run.");
  },
});
