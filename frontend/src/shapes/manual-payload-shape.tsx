import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { errorsFor, KeyValueEditor, TextField } from "./fields";
import { isBlank } from "./rules";

export interface ManualPayloadSettings {
  payload: string;
  meta: Record<string, string>;
}

function ManualPayloadPanel({ shape, onChange, errors, readOnly }: PanelProps<"manual_payload">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <TextField
        label="Payload"
        multiline
        mono
        value={s.payload}
        placeholder='{"id": "[[payload.id]]"}'
        onChange={(payload) => onChange({ ...s, payload })}
        errors={errorsFor(errors, "payload")}
        readOnly={readOnly}
      />
      <KeyValueEditor
        label="Meta"
        value={s.meta}
        onChange={(meta) => onChange({ ...s, meta })}
        errors={errorsFor(errors, "meta")}
        readOnly={readOnly}
      />
    </>
  );
}

export const manualPayloadShape = defineShape<"manual_payload">({
  type: "manual_payload",
  color: "var(--shape-manual-payload)",
  icon: "✎",
  summary: (s) => (s.payload ? s.payload.replace(/\s+/g, " ").slice(0, 40) : "Empty payload"),
  Panel: ManualPayloadPanel,
  defaults: () => ({ payload: "", meta: {} }),
  validate: (s, problem) => {
    if (isBlank(s.payload)) problem("payload", "Write the payload.");
  },
});
