/** Helpers the shape files share for their defaults and validation (pure: no React). */
import type { Condition } from "./types";
import { UNARY_OPERATORS } from "./types";

/** Report a problem with one setting (a path such as `mappings[0].source`). */
export type Problem = (setting: string, message: string) => void;

export function isBlank(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === "string" && value.trim() === "");
}

export function defaultCondition(): Condition {
  return { source: "payload", path: "", operator: "equals", value: "" };
}

/** The rules every condition list follows (filter, assert, route). */
export function checkConditions(
  conditions: { path: string; operator: string; value?: unknown }[],
  prefix: string,
  problem: Problem,
): void {
  conditions.forEach((condition, index) => {
    if (isBlank(condition.path)) problem(`${prefix}[${index}].path`, "Every condition needs a path.");
    if (
      condition.operator === "in" &&
      !Array.isArray(condition.value) &&
      !UNARY_OPERATORS.has(condition.operator)
    ) {
      problem(`${prefix}[${index}].value`, "The 'in' operator needs a list of values.");
    }
  });
}
