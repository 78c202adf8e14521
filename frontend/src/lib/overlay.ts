/** The canvas's live run overlay: one status and payload count per shape, from the run's steps. */
import type { RunOverlay } from "./serialize";

export interface StepLike {
  id: number;
  shape_id: string;
  status: string;
}

const RANK: Record<string, number> = {
  failed: 6,
  running: 5,
  retrying: 4,
  pending: 3,
  stopped: 2,
  succeeded: 1,
  skipped: 0,
};

/** Worst status wins (failed over running over succeeded); the count is the steps = payloads handled. */
export function overlayFromSteps(steps: Iterable<StepLike>): Record<string, RunOverlay> {
  const overlay: Record<string, RunOverlay> = {};
  for (const step of steps) {
    const current = overlay[step.shape_id];
    if (!current) {
      overlay[step.shape_id] = { status: step.status, payloads: 1 };
      continue;
    }
    const status = (RANK[step.status] ?? 0) > (RANK[current.status] ?? 0) ? step.status : current.status;
    overlay[step.shape_id] = { status, payloads: current.payloads + 1 };
  }
  return overlay;
}

/** Replace or add a step (by id) in a list, keeping order of first appearance. */
export function upsertStep<T extends { id: number }>(steps: T[], step: T): T[] {
  const index = steps.findIndex((s) => s.id === step.id);
  if (index < 0) return [...steps, step];
  const next = steps.slice();
  next[index] = step;
  return next;
}
