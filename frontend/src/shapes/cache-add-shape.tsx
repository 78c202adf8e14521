import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";
import { errorsFor, NumberField, SelectField, TextField } from "./fields";
import { isBlank } from "./rules";

export type CacheScope = "run" | "flow" | "global";

export interface CacheAddSettings {
  cache: string;
  scope: CacheScope;
  key: string;
  mode: "replace" | "append";
  ttl_hours: number;
}

export const CACHE_SCOPES: { value: CacheScope; label: string }[] = [
  { value: "run", label: "This run" },
  { value: "flow", label: "This flow (all its runs)" },
  { value: "global", label: "Global (every flow)" },
];

/** Checks shared by cache add and cache load (docs/shapes.md). */
export function validateCacheAddress(
  s: { cache: string; key: string },
  problem: (setting: string, message: string) => void,
): void {
  if (isBlank(s.cache)) problem("cache", "Name the cache.");
  else if (s.cache.length > 200) problem("cache", "A cache name has at most 200 characters.");
  if (s.key.length > 500) problem("key", "A key has at most 500 characters.");
}

function CacheAddPanel({ shape, onChange, errors, readOnly }: PanelProps<"cache_add">): ReactNode {
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
        hint="Optional template; empty keeps one slot for the whole cache."
        onChange={(key) => onChange({ ...s, key })}
        errors={errorsFor(errors, "key")}
        readOnly={readOnly}
      />
      <SelectField<"replace" | "append">
        label="Mode"
        value={s.mode}
        options={[
          { value: "replace", label: "Replace (keep only this payload)" },
          { value: "append", label: "Append (add an entry)" },
        ]}
        onChange={(mode) => onChange({ ...s, mode: mode ?? "replace" })}
        errors={errorsFor(errors, "mode")}
        readOnly={readOnly}
      />
      <NumberField
        label="Keep for (hours)"
        value={s.ttl_hours}
        min={0.01}
        max={87600}
        step={0.5}
        onChange={(ttl_hours) => onChange({ ...s, ttl_hours: ttl_hours ?? 24 })}
        errors={errorsFor(errors, "ttl_hours")}
        readOnly={readOnly}
      />
    </>
  );
}

export const cacheAddShape = defineShape<"cache_add">({
  type: "cache_add",
  color: "var(--shape-cache-add)",
  icon: "⤓",
  summary: (s) =>
    isBlank(s.cache) ? "No cache named" : `${s.mode === "append" ? "Append to" : "Store in"} ${s.cache}`,
  Panel: CacheAddPanel,
  defaults: () => ({ cache: "", scope: "flow", key: "", mode: "replace", ttl_hours: 24 }),
  validate: (s, problem) => {
    validateCacheAddress(s, problem);
    if (!(s.ttl_hours >= 0.01 && s.ttl_hours <= 87600)) {
      problem("ttl_hours", "Keep entries from 0.01 to 87600 hours.");
    }
  },
});
