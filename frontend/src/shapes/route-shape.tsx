import type { ReactNode } from "react";
import type { Condition, Match } from "./types";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { ConditionsEditor, errorsFor, SelectField } from "./fields";
import { checkConditions, isBlank } from "./rules";

export interface Route {
  label: string;
  conditions: Condition[];
  match: Match;
}

export interface RouteSettings {
  mode: "conditional" | "parallel";
  routes: Route[];
}

function RoutePanel({ shape, onChange, errors, readOnly }: PanelProps<"route">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <SelectField<"conditional" | "parallel">
        label="Mode"
        value={s.mode}
        options={[
          { value: "conditional", label: "Conditional: first matching route" },
          { value: "parallel", label: "Parallel: every connection" },
        ]}
        onChange={(mode) => onChange({ ...s, mode: mode ?? "conditional" })}
        readOnly={readOnly}
      />
      {s.mode === "conditional" ? (
        <>
          <div className="hint">
            Label each outgoing connection with a route (select the connection on the canvas). Routes are
            tried in order; a route without conditions always matches.
          </div>
          {s.routes.map((route, index) => (
            <fieldset key={index} className="route">
              <legend>
                Route {index + 1}
                {!readOnly ? (
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={`Remove route ${index + 1}`}
                    onClick={() => onChange({ ...s, routes: s.routes.filter((_, i) => i !== index) })}
                  >
                    ×
                  </button>
                ) : null}
              </legend>
              <input
                aria-label={`Route ${index + 1} label`}
                placeholder="label"
                value={route.label}
                readOnly={readOnly}
                onChange={(e) =>
                  onChange({
                    ...s,
                    routes: s.routes.map((r, i) => (i === index ? { ...r, label: e.target.value } : r)),
                  })
                }
              />
              {errorsFor(errors, `routes[${index}].label`).map((m) => (
                <div className="field-error" key={m}>
                  {m}
                </div>
              ))}
              <ConditionsEditor
                allowEmpty
                conditions={route.conditions}
                match={route.match}
                onChange={(conditions, match) =>
                  onChange({
                    ...s,
                    routes: s.routes.map((r, i) => (i === index ? { ...r, conditions, match } : r)),
                  })
                }
                errors={errorsFor(errors, `routes[${index}].conditions`)}
                readOnly={readOnly}
              />
            </fieldset>
          ))}
          {!readOnly ? (
            <button
              type="button"
              className="link-button"
              onClick={() =>
                onChange({
                  ...s,
                  routes: [
                    ...s.routes,
                    { label: `route${s.routes.length + 1}`, conditions: [], match: "all" },
                  ],
                })
              }
            >
              + Add route
            </button>
          ) : null}
          {errors
            .filter((e) => e.setting === "routes")
            .map((e) => (
              <div className="field-error" key={e.message}>
                {e.message}
              </div>
            ))}
        </>
      ) : null}
    </>
  );
}

export const routeShape = defineShape<"route">({
  type: "route",
  color: "var(--shape-route)",
  icon: "⇉",
  summary: (s) =>
    s.mode === "parallel" ? "Parallel" : `${s.routes.length} route${s.routes.length === 1 ? "" : "s"}`,
  Panel: RoutePanel,
  defaults: () => ({ mode: "conditional", routes: [] }),
  validate: (s, problem) => {
    const seen = new Set<string>();
    s.routes.forEach((route, index) => {
      if (isBlank(route.label)) problem(`routes[${index}].label`, "Every route needs a label.");
      else if (seen.has(route.label))
        problem(`routes[${index}].label`, `The label "${route.label}" is used twice.`);
      seen.add(route.label);
      checkConditions(route.conditions, `routes[${index}].conditions`, problem);
    });
  },
});
