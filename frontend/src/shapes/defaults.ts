import type { Condition, SettingsByType, ShapeType } from "./types";

export function defaultCondition(): Condition {
  return { source: "payload", path: "", operator: "equals", value: "" };
}

/** Settings a freshly dropped shape starts with (required ones left empty for the user to fill in). */
export function defaultSettings<T extends ShapeType>(type: T): SettingsByType[T] {
  const all: { [K in ShapeType]: () => SettingsByType[K] } = {
    trigger: () => ({ kind: "manual" }),
    connector: () => ({
      connector: null,
      endpoint: null,
      variables: {},
      timeout: null,
      retries: 0,
      retry_delay: null,
      response_script: null,
      response_script_version: null,
      max_pages: 100,
    }),
    script: () => ({ script: null, version: null }),
    map: () => ({ mappings: [], output: "new" }),
    filter: () => ({ conditions: [defaultCondition()], match: "all", keep_matching: true }),
    route: () => ({ mode: "conditional", routes: [] }),
    branch: () => ({}),
    split: () => ({ format: "json", path: "@" }),
    flow_control: () => ({ size: 100, path: "@" }),
    set_variables: () => ({ variables: [] }),
    notify: () => ({ message: "", level: "info", email: null }),
    run_flow: () => ({ flow: null, pass_payload: true }),
    manual_payload: () => ({ payload: "", meta: {} }),
    assert: () => ({ conditions: [defaultCondition()], match: "all", message: "" }),
    try_catch: () => ({ partial_success: true }),
  };
  return all[type]();
}
