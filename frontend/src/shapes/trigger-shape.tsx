import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { TRIGGER_KINDS } from "../api/server-lists";
import { defineShape } from "./definition";
import { errorsFor, LinesField, NumberField, SelectField, TextField } from "./fields";

export interface WebhookResponse {
  mode: "immediate" | "final_payload";
  timeout: number;
  status: number;
  body: string;
  format: "json" | "xml" | "text";
}

export type TriggerSettings =
  { kind: "manual" } | { kind: "schedule"; cron: string[] } | { kind: "webhook"; response?: WebhookResponse };

/** How the panel names each trigger kind the server offers. */
const KIND_LABELS: Record<(typeof TRIGGER_KINDS)[number], string> = {
  manual: "Manual / API",
  schedule: "Schedule (cron, UTC)",
  webhook: "Webhook",
};

const DEFAULT_RESPONSE: WebhookResponse = {
  mode: "immediate",
  timeout: 30,
  status: 200,
  body: '{"message": "Flow initialised."}',
  format: "json",
};

function TriggerPanel({ shape, onChange, errors, readOnly }: PanelProps<"trigger">): ReactNode {
  const settings = shape.settings;
  const setKind = (kind: TriggerSettings["kind"] | null): void => {
    if (kind === "schedule") onChange({ kind, cron: ["0 * * * *"] });
    else if (kind === "webhook") onChange({ kind, response: { ...DEFAULT_RESPONSE } });
    else onChange({ kind: "manual" });
  };
  return (
    <>
      <SelectField<TriggerSettings["kind"]>
        label="Starts on"
        value={settings.kind}
        options={TRIGGER_KINDS.map((kind) => ({ value: kind, label: KIND_LABELS[kind] }))}
        onChange={setKind}
        readOnly={readOnly}
        errors={errorsFor(errors, "kind")}
      />
      {settings.kind === "schedule" ? (
        <LinesField
          label="Cron expressions (one per line)"
          value={settings.cron}
          onChange={(cron) => onChange({ kind: "schedule", cron })}
          hint="Five fields in UTC: minute hour day month weekday, e.g. */15 * * * *"
          errors={errorsFor(errors, "cron")}
          readOnly={readOnly}
        />
      ) : null}
      {settings.kind === "webhook" ? (
        <WebhookResponseFields
          value={settings.response ?? DEFAULT_RESPONSE}
          onChange={(response) => onChange({ kind: "webhook", response })}
          readOnly={readOnly}
          errors={errorsFor(errors, "response")}
        />
      ) : null}
    </>
  );
}

function WebhookResponseFields(props: {
  value: WebhookResponse;
  onChange: (value: WebhookResponse) => void;
  readOnly: boolean;
  errors: string[];
}): ReactNode {
  const { value, onChange, readOnly } = props;
  return (
    <fieldset>
      <legend>Webhook reply</legend>
      <SelectField<WebhookResponse["mode"]>
        label="Answer"
        value={value.mode}
        options={[
          { value: "immediate", label: "At once, with the reply below" },
          { value: "final_payload", label: "With the final payload of the run" },
        ]}
        onChange={(mode) => onChange({ ...value, mode: mode ?? "immediate" })}
        readOnly={readOnly}
        errors={props.errors}
      />
      {value.mode === "final_payload" ? (
        <NumberField
          label="Timeout (s)"
          value={value.timeout}
          min={1}
          max={300}
          onChange={(timeout) => onChange({ ...value, timeout: timeout ?? 30 })}
          hint="Answers 504 when the run is not done in time."
          readOnly={readOnly}
        />
      ) : (
        <>
          <NumberField
            label="Status"
            value={value.status}
            min={100}
            max={599}
            onChange={(status) => onChange({ ...value, status: status ?? 200 })}
            readOnly={readOnly}
          />
          <SelectField<WebhookResponse["format"]>
            label="Format"
            value={value.format}
            options={[
              { value: "json", label: "JSON" },
              { value: "xml", label: "XML" },
              { value: "text", label: "Text" },
            ]}
            onChange={(format) => onChange({ ...value, format: format ?? "json" })}
            readOnly={readOnly}
          />
          <TextField
            label="Body"
            multiline
            mono
            value={value.body}
            onChange={(body) => onChange({ ...value, body })}
            readOnly={readOnly}
          />
        </>
      )}
    </fieldset>
  );
}

export const triggerShape = defineShape<"trigger">({
  type: "trigger",
  color: "var(--shape-trigger)",
  icon: "▶",
  summary: (s) =>
    s.kind === "schedule"
      ? `Schedule ${s.cron.filter(Boolean).join(", ")}`
      : s.kind === "webhook"
        ? "Webhook"
        : "Manual / API",
  Panel: TriggerPanel,
  defaults: () => ({ kind: "manual" }),
  validate: (s, problem) => {
    if (s.kind !== "schedule") return;
    const cron = s.cron.filter((line) => line.trim() !== "");
    if (cron.length === 0) problem("cron", "A schedule trigger needs at least one cron expression.");
    for (const line of cron) {
      if (line.trim().split(/\s+/).length !== 5)
        problem("cron", `"${line}" is not a 5-field cron expression.`);
    }
  },
});
