import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { CheckboxField, errorsFor, SelectField, TextField } from "./fields";
import { isBlank } from "./rules";

export interface NotifySettings {
  message: string;
  level: "info" | "warning" | "error";
  email: null | { to: string[]; subject: string };
}

function NotifyPanel({ shape, onChange, errors, readOnly }: PanelProps<"notify">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <TextField
        label="Message"
        multiline
        mono
        value={s.message}
        placeholder="Order [[payload.id]] processed"
        onChange={(message) => onChange({ ...s, message })}
        errors={errorsFor(errors, "message")}
        readOnly={readOnly}
      />
      <SelectField<NotifySettings["level"]>
        label="Level"
        value={s.level}
        options={[
          { value: "info", label: "Info" },
          { value: "warning", label: "Warning" },
          { value: "error", label: "Error" },
        ]}
        onChange={(level) => onChange({ ...s, level: level ?? "info" })}
        readOnly={readOnly}
      />
      <CheckboxField
        label="Also send by email"
        checked={s.email !== null}
        onChange={(on) =>
          onChange({ ...s, email: on ? { to: [], subject: "Patchbay: [[flow.name]]" } : null })
        }
        readOnly={readOnly}
      />
      {s.email !== null ? (
        <>
          <TextField
            label="To (comma separated)"
            value={s.email.to.join(", ")}
            onChange={(text) =>
              onChange({
                ...s,
                email: {
                  subject: s.email?.subject ?? "",
                  to: text
                    .split(",")
                    .map((a) => a.trim())
                    .filter(Boolean),
                },
              })
            }
            errors={errorsFor(errors, "email")}
            readOnly={readOnly}
          />
          <TextField
            label="Subject"
            value={s.email.subject}
            onChange={(subject) => onChange({ ...s, email: { to: s.email?.to ?? [], subject } })}
            readOnly={readOnly}
          />
        </>
      ) : null}
    </>
  );
}

export const notifyShape = defineShape<"notify">({
  type: "notify",
  color: "var(--shape-notify)",
  icon: "✉",
  summary: (s) => (s.message ? s.message.slice(0, 40) : "No message"),
  Panel: NotifyPanel,
  defaults: () => ({ message: "", level: "info", email: null }),
  validate: (s, problem) => {
    if (isBlank(s.message)) problem("message", "Write the message to log.");
    if (s.email && s.email.to.length === 0)
      problem("email", "Email notifications need at least one address.");
  },
});
