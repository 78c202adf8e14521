import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { errorsFor, NumberField, TextField } from "./fields";

export interface FlowControlSettings {
  size: number;
  path: string;
}

function FlowControlPanel({ shape, onChange, errors, readOnly }: PanelProps<"flow_control">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <NumberField
        label="Batch size"
        value={s.size}
        min={1}
        max={10000}
        onChange={(size) => onChange({ ...s, size: size ?? 1 })}
        errors={errorsFor(errors, "size")}
        readOnly={readOnly}
      />
      <TextField
        label="Path to the list"
        mono
        value={s.path}
        hint="JMESPath; @ is the whole payload."
        onChange={(path) => onChange({ ...s, path })}
        errors={errorsFor(errors, "path")}
        readOnly={readOnly}
      />
    </>
  );
}

export const flowControlShape = defineShape<"flow_control">({
  type: "flow_control",
  color: "var(--shape-flow-control)",
  icon: "▦",
  summary: (s) => `Batches of ${s.size}`,
  Panel: FlowControlPanel,
  defaults: () => ({ size: 100, path: "@" }),
  validate: (s, problem) => {
    if (!Number.isInteger(s.size) || s.size < 1 || s.size > 10000) {
      problem("size", "Batch size must be a whole number from 1 to 10000.");
    }
  },
});
