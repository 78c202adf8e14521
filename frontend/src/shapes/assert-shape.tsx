import type { ReactNode } from "react";
import type { PanelProps, ShapeDefinition } from "./definition";
import { ConditionsEditor, errorsFor, TextField } from "./fields";

function AssertPanel({ shape, onChange, errors, readOnly }: PanelProps<"assert">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <ConditionsEditor
        conditions={s.conditions}
        match={s.match}
        onChange={(conditions, match) => onChange({ ...s, conditions, match })}
        errors={errorsFor(errors, "conditions")}
        readOnly={readOnly}
      />
      <TextField
        label="Failure message"
        value={s.message}
        placeholder="Order [[payload.id]] is not paid"
        onChange={(message) => onChange({ ...s, message })}
        errors={errorsFor(errors, "message")}
        readOnly={readOnly}
      />
    </>
  );
}

export const assertShape: ShapeDefinition<"assert"> = {
  type: "assert",
  label: "Assert",
  description: "Fails the step when the payload does not match.",
  color: "#c92a2a",
  icon: "!",
  summary: (s) => `Require ${s.match} of ${s.conditions.length}`,
  Panel: AssertPanel,
};
