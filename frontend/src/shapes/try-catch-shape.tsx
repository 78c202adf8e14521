import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { CheckboxField } from "./fields";

export interface TryCatchSettings {
  partial_success: boolean;
}

function TryCatchPanel({ shape, onChange, readOnly }: PanelProps<"try_catch">): ReactNode {
  return (
    <>
      <p className="hint">
        Label outgoing connections <code>try</code> (at least one) and <code>catch</code>. A payload that
        fails downstream of try goes down catch with meta <code>error</code> and <code>error_shape</code>.
      </p>
      <CheckboxField
        label="A caught failure ends the run as partial success"
        checked={shape.settings.partial_success}
        onChange={(partial_success) => onChange({ partial_success })}
        readOnly={readOnly}
      />
    </>
  );
}

export const tryCatchShape = defineShape<"try_catch">({
  type: "try_catch",
  color: "var(--shape-try-catch)",
  icon: "⤳",
  summary: (s) => (s.partial_success ? "Partial success on catch" : "Succeeds on catch"),
  Panel: TryCatchPanel,
  defaults: () => ({ partial_success: true }),
});
