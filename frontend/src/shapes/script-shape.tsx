import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape, nameOf } from "./definition";
import { errorsFor } from "./fields";
import { ScriptPicker } from "./script-picker";
import { isBlank } from "./rules";

export interface ScriptSettings {
  script: number | null;
  version: number | null;
}

function ScriptPanel({ shape, onChange, errors, readOnly, lookups }: PanelProps<"script">): ReactNode {
  return (
    <ScriptPicker
      label="Script"
      testId="script-select"
      scripts={lookups.deployedScripts}
      script={shape.settings.script}
      version={shape.settings.version}
      emptyLabel="Choose a script…"
      onChange={(script, version) => onChange({ script, version })}
      scriptErrors={errorsFor(errors, "script")}
      versionErrors={errorsFor(errors, "version")}
      readOnly={readOnly}
    />
  );
}

export const scriptShape = defineShape<"script">({
  type: "script",
  color: "var(--shape-script)",
  icon: "ƒ",
  summary: (s, l) =>
    s.script === null
      ? "No script chosen"
      : `${nameOf(l.scripts.length ? l.scripts : l.deployedScripts, s.script)}${s.version ? ` v${s.version}` : ""}`,
  Panel: ScriptPanel,
  defaults: () => ({ script: null, version: null }),
  validate: (s, problem) => {
    if (isBlank(s.script)) problem("script", "Choose a script.");
  },
});
