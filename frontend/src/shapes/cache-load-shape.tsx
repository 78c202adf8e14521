import type { ReactNode } from "react";
import type { CacheScope } from "./cache-add-shape";
import { CACHE_SCOPES, validateCacheAddress } from "./cache-add-shape";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { errorsFor, SelectField, TextField } from "./fields";
import { isBlank } from "./rules";

export interface CacheLoadSettings {
  cache: string;
  scope: CacheScope;
  key: string;
  missing: "fail" | "empty" | "skip";
}

function CacheLoadPanel({ shape, onChange, errors, readOnly }: PanelProps<"cache_load">): ReactNode {
  const s = shape.settings;
  return (
    <>
      <TextField
        label="Cache"
        value={s.cache}
        onChange={(cache) => onChange({ ...s, cache })}
        errors={errorsFor(errors, "cache")}
        readOnly={readOnly}
      />
      <SelectField<CacheScope>
        label="Shared by"
        value={s.scope}
        options={CACHE_SCOPES}
        onChange={(scope) => onChange({ ...s, scope: scope ?? "flow" })}
        errors={errorsFor(errors, "scope")}
        readOnly={readOnly}
      />
      <TextField
        label="Key"
        mono
        value={s.key}
        placeholder="[[payload.id]]"
        hint="Optional template; the same key the cache add shape used."
        onChange={(key) => onChange({ ...s, key })}
        errors={errorsFor(errors, "key")}
        readOnly={readOnly}
      />
      <SelectField<"fail" | "empty" | "skip">
        label="When nothing is stored"
        value={s.missing}
        options={[
          { value: "fail", label: "Fail the step" },
          { value: "empty", label: "Emit an empty payload" },
          { value: "skip", label: "Emit nothing" },
        ]}
        onChange={(missing) => onChange({ ...s, missing: missing ?? "fail" })}
        errors={errorsFor(errors, "missing")}
        readOnly={readOnly}
      />
    </>
  );
}

export const cacheLoadShape = defineShape<"cache_load">({
  type: "cache_load",
  color: "var(--shape-cache-load)",
  icon: "⤒",
  summary: (s) => (isBlank(s.cache) ? "No cache named" : `Load ${s.cache}`),
  Panel: CacheLoadPanel,
  defaults: () => ({ cache: "", scope: "flow", key: "", missing: "fail" }),
  validate: (s, problem) => validateCacheAddress(s, problem),
});
