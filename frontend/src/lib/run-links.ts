/** Run mentions in run log lines ("queued as run 12", "retrying run 7") and what a run's status means
 * to a person. Pure. */
import type { RunSummary, Step } from "../api/types";

export type MessagePart = string | { run: number; text: string };

const RUN_MENTION = /\brun #?(\d+)\b/gi;

/** `message` split into text and run mentions (each mention keeps its original text). */
export function splitRunMentions(message: string): MessagePart[] {
  const parts: MessagePart[] = [];
  let last = 0;
  for (const match of message.matchAll(RUN_MENTION)) {
    const index = match.index;
    if (index > last) parts.push(message.slice(last, index));
    parts.push({ run: Number(match[1]), text: match[0] });
    last = index + match[0].length;
  }
  if (last < message.length) parts.push(message.slice(last));
  return parts;
}

const QUEUED_RETRY = /\b(?:queued as run|retried manually as run) #?(\d+)\b/i;

/** The id of the newest run that log `lines` say was queued to retry this one, or null. */
export function retryRunIn(lines: readonly { message: string }[]): number | null {
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = QUEUED_RETRY.exec(lines[i]?.message ?? "");
    if (match) return Number(match[1]);
  }
  return null;
}

/**
 * The status to show: a queued run that already started is waiting for a step retry ("retrying_step"),
 * not queued for the first time; with the steps at hand, a step in `retrying` says so for sure.
 */
export function displayStatus(
  run: Pick<RunSummary, "status" | "started_at">,
  steps?: readonly Pick<Step, "status">[],
): string {
  if (run.status !== "queued") return run.status;
  if (steps !== undefined) return steps.some((s) => s.status === "retrying") ? "retrying_step" : "queued";
  return run.started_at ? "retrying_step" : "queued";
}
