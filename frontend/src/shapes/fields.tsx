/** Small, consistent form controls shared by the shape settings panels. */
import { useId } from "react";
import type { ReactNode } from "react";
import type { Condition, GraphError, Match, Operator } from "./types";
import { OPERATORS, UNARY_OPERATORS } from "./types";
import { defaultCondition } from "./rules";

/** Errors that name `setting` or one of its items (`setting[0].path`). */
export function errorsFor(errors: GraphError[], setting: string): string[] {
  return errors
    .filter(
      (e) =>
        e.setting === setting ||
        (e.setting ?? "").startsWith(`${setting}[`) ||
        (e.setting ?? "").startsWith(`${setting}.`),
    )
    .map((e) => e.message);
}

export function Field(props: {
  label: string;
  hint?: string;
  errors?: string[];
  children: (id: string) => ReactNode;
}): ReactNode {
  const id = useId();
  const errors = props.errors ?? [];
  return (
    <div className={`field${errors.length > 0 ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{props.label}</label>
      {props.children(id)}
      {props.hint ? <div className="hint">{props.hint}</div> : null}
      {errors.map((message) => (
        <div key={message} className="field-error" role="alert">
          {message}
        </div>
      ))}
    </div>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  hint?: string;
  errors?: string[];
  placeholder?: string;
  multiline?: boolean;
  readOnly?: boolean;
  mono?: boolean;
}): ReactNode {
  return (
    <Field
      label={props.label}
      {...(props.hint ? { hint: props.hint } : {})}
      {...(props.errors ? { errors: props.errors } : {})}
    >
      {(id) =>
        props.multiline ? (
          <textarea
            id={id}
            className={props.mono ? "mono" : undefined}
            value={props.value}
            placeholder={props.placeholder}
            readOnly={props.readOnly}
            rows={4}
            onChange={(e) => props.onChange(e.target.value)}
          />
        ) : (
          <input
            id={id}
            type="text"
            className={props.mono ? "mono" : undefined}
            value={props.value}
            placeholder={props.placeholder}
            readOnly={props.readOnly}
            onChange={(e) => props.onChange(e.target.value)}
          />
        )
      }
    </Field>
  );
}

export function NumberField(props: {
  label: string;
  value: number | null;
  onChange: (value: number | null) => void;
  min?: number;
  max?: number;
  step?: number;
  nullable?: boolean;
  placeholder?: string;
  hint?: string;
  errors?: string[];
  readOnly?: boolean;
}): ReactNode {
  return (
    <Field
      label={props.label}
      {...(props.hint ? { hint: props.hint } : {})}
      {...(props.errors ? { errors: props.errors } : {})}
    >
      {(id) => (
        <input
          id={id}
          type="number"
          value={props.value ?? ""}
          min={props.min}
          max={props.max}
          step={props.step ?? 1}
          placeholder={props.placeholder}
          readOnly={props.readOnly}
          onChange={(e) => {
            const raw = e.target.value;
            if (raw === "") props.onChange(props.nullable ? null : (props.min ?? 0));
            else props.onChange(Number(raw));
          }}
        />
      )}
    </Field>
  );
}

export interface Option<V extends string | number> {
  value: V;
  label: string;
}

export function SelectField<V extends string | number>(props: {
  label: string;
  value: V | null;
  options: Option<V>[];
  onChange: (value: V | null) => void;
  emptyLabel?: string;
  hint?: string;
  errors?: string[];
  readOnly?: boolean;
  testId?: string;
}): ReactNode {
  const numeric = props.options.length > 0 && typeof props.options[0]?.value === "number";
  return (
    <Field
      label={props.label}
      {...(props.hint ? { hint: props.hint } : {})}
      {...(props.errors ? { errors: props.errors } : {})}
    >
      {(id) => (
        <select
          id={id}
          data-testid={props.testId}
          value={props.value === null ? "" : String(props.value)}
          disabled={props.readOnly}
          onChange={(e) => {
            const raw = e.target.value;
            if (raw === "") props.onChange(null);
            else props.onChange((numeric ? Number(raw) : raw) as V);
          }}
        >
          {props.emptyLabel !== undefined ? <option value="">{props.emptyLabel}</option> : null}
          {props.options.map((option) => (
            <option key={String(option.value)} value={String(option.value)}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function CheckboxField(props: {
  label: string;
  checked: boolean;
  onChange: (value: boolean) => void;
  hint?: string;
  readOnly?: boolean;
}): ReactNode {
  const id = useId();
  return (
    <div className="field field-check">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        disabled={props.readOnly}
        onChange={(e) => props.onChange(e.target.checked)}
      />
      <label htmlFor={id}>{props.label}</label>
      {props.hint ? <div className="hint">{props.hint}</div> : null}
    </div>
  );
}

/** Edit a {name: value} map as rows. */
export function KeyValueEditor(props: {
  label: string;
  value: Record<string, string>;
  onChange: (value: Record<string, string>) => void;
  keyPlaceholder?: string;
  valuePlaceholder?: string;
  suggestedKeys?: string[];
  errors?: string[];
  readOnly?: boolean;
}): ReactNode {
  const entries = Object.entries(props.value);
  const missing = (props.suggestedKeys ?? []).filter((key) => !(key in props.value));
  const write = (rows: [string, string][]): void => props.onChange(Object.fromEntries(rows));
  return (
    <fieldset className="kv">
      <legend>{props.label}</legend>
      {entries.length === 0 && missing.length === 0 ? <div className="hint">None.</div> : null}
      {entries.map(([key, val], index) => (
        <div className="kv-row" key={index}>
          <input
            aria-label={`${props.label} name ${index + 1}`}
            value={key}
            placeholder={props.keyPlaceholder ?? "name"}
            readOnly={props.readOnly}
            onChange={(e) => write(entries.map((row, i) => (i === index ? [e.target.value, row[1]] : row)))}
          />
          <input
            aria-label={`${props.label} value ${index + 1}`}
            className="mono"
            value={val}
            placeholder={props.valuePlaceholder ?? "value or [[payload.x]]"}
            readOnly={props.readOnly}
            onChange={(e) => write(entries.map((row, i) => (i === index ? [row[0], e.target.value] : row)))}
          />
          {!props.readOnly ? (
            <button
              type="button"
              className="icon-button"
              aria-label="Remove"
              onClick={() => write(entries.filter((_, i) => i !== index))}
            >
              ×
            </button>
          ) : null}
        </div>
      ))}
      {!props.readOnly ? (
        <div className="row-actions">
          {missing.map((key) => (
            <button
              type="button"
              className="link-button"
              key={key}
              onClick={() => write([...entries, [key, ""]])}
            >
              + {key}
            </button>
          ))}
          <button
            type="button"
            className="link-button"
            onClick={() => write([...entries, [`name${entries.length + 1}`, ""]])}
          >
            + Add
          </button>
        </div>
      ) : null}
      {(props.errors ?? []).map((message) => (
        <div key={message} className="field-error">
          {message}
        </div>
      ))}
    </fieldset>
  );
}

/** Edit a list of strings, one per line. */
export function LinesField(props: {
  label: string;
  value: string[];
  onChange: (value: string[]) => void;
  hint?: string;
  errors?: string[];
  readOnly?: boolean;
  placeholder?: string;
}): ReactNode {
  return (
    <TextField
      label={props.label}
      multiline
      mono
      value={props.value.join("\n")}
      onChange={(text) => props.onChange(text.split("\n"))}
      {...(props.hint ? { hint: props.hint } : {})}
      {...(props.errors ? { errors: props.errors } : {})}
      {...(props.placeholder ? { placeholder: props.placeholder } : {})}
      {...(props.readOnly ? { readOnly: true } : {})}
    />
  );
}

function parseValue(text: string, operator: Operator): unknown {
  if (operator === "in") {
    return text
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part !== "");
  }
  return text;
}

function showValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(", ");
  if (value === undefined || value === null) return "";
  return String(value);
}

/** Conditions with their all / any combinator (filter, route, assert). */
export function ConditionsEditor(props: {
  conditions: Condition[];
  match: Match;
  onChange: (conditions: Condition[], match: Match) => void;
  errors?: string[];
  readOnly?: boolean;
  allowEmpty?: boolean;
}): ReactNode {
  const { conditions, match } = props;
  const update = (index: number, patch: Partial<Condition>): void => {
    props.onChange(
      conditions.map((c, i) => {
        if (i !== index) return c;
        const next = { ...c, ...patch };
        if (patch.operator !== undefined) {
          if (UNARY_OPERATORS.has(patch.operator)) delete next.value;
          else next.value = parseValue(showValue(c.value), patch.operator);
        }
        return next;
      }),
      match,
    );
  };
  return (
    <fieldset className="conditions">
      <legend>Conditions</legend>
      <div className="match-row">
        Payload matches
        <select
          aria-label="Match"
          value={match}
          disabled={props.readOnly}
          onChange={(e) => props.onChange(conditions, e.target.value as Match)}
        >
          <option value="all">all</option>
          <option value="any">any</option>
        </select>
        of these:
      </div>
      {conditions.length === 0 ? (
        <div className="hint">
          {props.allowEmpty ? "No conditions: always matches." : "Add at least one condition."}
        </div>
      ) : null}
      {conditions.map((condition, index) => (
        <div className="condition-row" key={index}>
          <select
            aria-label={`Condition ${index + 1} source`}
            value={condition.source}
            disabled={props.readOnly}
            onChange={(e) => update(index, { source: e.target.value as Condition["source"] })}
          >
            <option value="payload">payload</option>
            <option value="meta">meta</option>
            <option value="variables">variables</option>
          </select>
          <input
            aria-label={`Condition ${index + 1} path`}
            className="mono"
            placeholder={condition.source === "payload" ? "JMESPath, e.g. order.status" : "key"}
            value={condition.path}
            readOnly={props.readOnly}
            onChange={(e) => update(index, { path: e.target.value })}
          />
          <select
            aria-label={`Condition ${index + 1} operator`}
            value={condition.operator}
            disabled={props.readOnly}
            onChange={(e) => update(index, { operator: e.target.value as Operator })}
          >
            {OPERATORS.map((op) => (
              <option key={op} value={op}>
                {op.replaceAll("_", " ")}
              </option>
            ))}
          </select>
          {UNARY_OPERATORS.has(condition.operator) ? (
            <span />
          ) : (
            <input
              aria-label={`Condition ${index + 1} value`}
              className="mono"
              placeholder={condition.operator === "in" ? "a, b, c" : "value"}
              value={showValue(condition.value)}
              readOnly={props.readOnly}
              onChange={(e) => update(index, { value: parseValue(e.target.value, condition.operator) })}
            />
          )}
          {!props.readOnly ? (
            <button
              type="button"
              className="icon-button"
              aria-label={`Remove condition ${index + 1}`}
              onClick={() =>
                props.onChange(
                  conditions.filter((_, i) => i !== index),
                  match,
                )
              }
            >
              ×
            </button>
          ) : null}
        </div>
      ))}
      {!props.readOnly ? (
        <button
          type="button"
          className="link-button"
          onClick={() => props.onChange([...conditions, defaultCondition()], match)}
        >
          + Add condition
        </button>
      ) : null}
      {(props.errors ?? []).map((message) => (
        <div key={message} className="field-error">
          {message}
        </div>
      ))}
    </fieldset>
  );
}
