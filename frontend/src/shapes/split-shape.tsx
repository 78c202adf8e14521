import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { CheckboxField, errorsFor, SelectField, TextField } from "./fields";
import { isBlank } from "./rules";

export interface SplitSettings {
  format: "json" | "lines" | "csv" | "xml";
  path?: string;
  header?: boolean;
  element?: string;
}

function SplitPanel({ shape, onChange, errors, readOnly }: PanelProps<"split">): ReactNode {
  const s = shape.settings;
  const setFormat = (format: SplitSettings["format"] | null): void => {
    if (format === "json" || format === null) onChange({ format: "json", path: s.path ?? "@" });
    else if (format === "csv") onChange({ format, header: s.header ?? true });
    else if (format === "xml") onChange({ format, element: s.element ?? "" });
    else onChange({ format });
  };
  return (
    <>
      <SelectField<SplitSettings["format"]>
        label="Format"
        value={s.format}
        options={[
          { value: "json", label: "JSON list" },
          { value: "lines", label: "Lines of text" },
          { value: "csv", label: "CSV rows" },
          { value: "xml", label: "XML elements" },
        ]}
        onChange={setFormat}
        readOnly={readOnly}
      />
      {s.format === "json" ? (
        <TextField
          label="Path to the list"
          mono
          value={s.path ?? "@"}
          hint="JMESPath; @ is the whole payload."
          onChange={(path) => onChange({ ...s, path })}
          errors={errorsFor(errors, "path")}
          readOnly={readOnly}
        />
      ) : null}
      {s.format === "csv" ? (
        <CheckboxField
          label="First row is a header (repeated in every row payload)"
          checked={s.header ?? true}
          onChange={(header) => onChange({ ...s, header })}
          readOnly={readOnly}
        />
      ) : null}
      {s.format === "xml" ? (
        <TextField
          label="Element tag name"
          mono
          value={s.element ?? ""}
          onChange={(element) => onChange({ ...s, element })}
          errors={errorsFor(errors, "element")}
          readOnly={readOnly}
        />
      ) : null}
    </>
  );
}

export const splitShape = defineShape<"split">({
  type: "split",
  color: "var(--shape-split)",
  icon: "⋔",
  summary: (s) => `Split ${s.format}${s.format === "xml" && s.element ? ` <${s.element}>` : ""}`,
  Panel: SplitPanel,
  defaults: () => ({ format: "json", path: "@" }),
  validate: (s, problem) => {
    if (s.format === "xml" && isBlank(s.element))
      problem("element", "Splitting XML needs an element tag name.");
  },
});
