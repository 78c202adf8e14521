import type { ReactNode } from "react";
import type { Condition, Match } from "./types";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { ConditionsEditor, errorsFor, TextField } from "./fields";
import { checkConditions, defaultCondition } from "./rules";

export interface AssertSettings {
  conditions: Condition[];
  match: Match;
  message: string;
}

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

export const assertShape = defineShape<"assert">({
  type: "assert",
  color: "var(--shape-assert)",
  icon: "!",
  summary: (s) => `Require ${s.match} of ${s.conditions.length}`,
  Panel: AssertPanel,
  defaults: () => ({ conditions: [defaultCondition()], match: "all", message: "" }),
  validate: (s, problem) => {
    if (s.conditions.length === 0) problem("conditions", "Add at least one condition.");
    checkConditions(s.conditions, "conditions", problem);
  },
});
