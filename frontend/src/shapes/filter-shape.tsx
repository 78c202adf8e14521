import type { ReactNode } from "react";
import type { Condition, Match } from "./types";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { CheckboxField, ConditionsEditor, errorsFor } from "./fields";
import { checkConditions, defaultCondition } from "./rules";

export interface FilterSettings {
  conditions: Condition[];
  match: Match;
  keep_matching: boolean;
}

function FilterPanel({ shape, onChange, errors, readOnly }: PanelProps<"filter">): ReactNode {
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
      <CheckboxField
        label="Keep matching payloads"
        hint="Unchecked: keep the payloads that do not match."
        checked={s.keep_matching}
        onChange={(keep_matching) => onChange({ ...s, keep_matching })}
        readOnly={readOnly}
      />
    </>
  );
}

export const filterShape = defineShape<"filter">({
  type: "filter",
  color: "var(--shape-filter)",
  icon: "▼",
  summary: (s) => `${s.keep_matching ? "Keep" : "Drop"} ${s.match} of ${s.conditions.length}`,
  Panel: FilterPanel,
  defaults: () => ({ conditions: [defaultCondition()], match: "all", keep_matching: true }),
  validate: (s, problem) => {
    if (s.conditions.length === 0) problem("conditions", "Add at least one condition.");
    checkConditions(s.conditions, "conditions", problem);
  },
});
