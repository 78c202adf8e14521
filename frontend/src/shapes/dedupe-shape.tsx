import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { errorsFor, NumberField, SelectField, TextField } from "./fields";
import { isBlank } from "./rules";

export type DedupeMode = "filter" | "track" | "filter_and_track";

export interface DedupeSettings {
  pool: string;
  key_path: string;
  mode: DedupeMode;
  retention_days: number;
}

function DedupePanel({ shape, onChange, errors, readOnly }: PanelProps<"dedupe">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <TextField
        label="Pool"
        value={s.pool}
        hint="Flows that name the same pool share its keys."
        onChange={(pool) => onChange({ ...s, pool })}
        errors={errorsFor(errors, "pool")}
        readOnly={readOnly}
      />
      <TextField
        label="Key path"
        mono
        value={s.key_path}
        placeholder="id"
        hint="JMESPath into each item of a JSON array payload, or into the object."
        onChange={(key_path) => onChange({ ...s, key_path })}
        errors={errorsFor(errors, "key_path")}
        readOnly={readOnly}
      />
      <SelectField<DedupeMode>
        label="Mode"
        value={s.mode}
        options={[
          { value: "filter_and_track", label: "Filter and track (drop seen keys, record new ones)" },
          { value: "filter", label: "Filter only (drop seen keys)" },
          { value: "track", label: "Track only (record keys, drop nothing)" },
        ]}
        onChange={(mode) => onChange({ ...s, mode: mode ?? "filter_and_track" })}
        errors={errorsFor(errors, "mode")}
        readOnly={readOnly}
      />
      <NumberField
        label="Remember keys for (days)"
        value={s.retention_days}
        min={1}
        max={3650}
        onChange={(retention_days) => onChange({ ...s, retention_days: retention_days ?? 90 })}
        errors={errorsFor(errors, "retention_days")}
        readOnly={readOnly}
      />
    </>
  );
}

export const dedupeShape = defineShape<"dedupe">({
  type: "dedupe",
  color: "var(--shape-dedupe)",
  icon: "≠",
  summary: (s) => (isBlank(s.pool) ? "No pool named" : `${s.pool} by ${s.key_path || "?"}`),
  Panel: DedupePanel,
  defaults: () => ({ pool: "", key_path: "", mode: "filter_and_track", retention_days: 90 }),
  validate: (s, problem) => {
    if (isBlank(s.pool)) problem("pool", "Name the de-dupe pool.");
    if (isBlank(s.key_path)) problem("key_path", "Give the JMESPath to each item's key.");
    if (!Number.isInteger(s.retention_days) || s.retention_days < 1 || s.retention_days > 3650) {
      problem("retention_days", "Remember keys for 1 to 3650 days.");
    }
  },
});
