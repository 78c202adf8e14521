import { describe, expect, it } from "vitest";
import { overlayFromSteps, upsertStep } from "./overlay";

describe("overlayFromSteps", () => {
  it("counts payloads per shape and lets the worst status win", () => {
    const overlay = overlayFromSteps([
      { id: 1, shape_id: "trigger", status: "succeeded" },
      { id: 2, shape_id: "split", status: "succeeded" },
      { id: 3, shape_id: "get", status: "succeeded" },
      { id: 4, shape_id: "get", status: "failed" },
      { id: 5, shape_id: "get", status: "running" },
    ]);
    expect(overlay).toEqual({
      trigger: { status: "succeeded", payloads: 1 },
      split: { status: "succeeded", payloads: 1 },
      get: { status: "failed", payloads: 3 },
    });
  });

  it("replaces a step by id and appends new ones", () => {
    const steps = [
      { id: 1, shape_id: "a", status: "running" },
      { id: 2, shape_id: "b", status: "pending" },
    ];
    expect(upsertStep(steps, { id: 1, shape_id: "a", status: "succeeded" })[0]?.status).toBe("succeeded");
    expect(upsertStep(steps, { id: 3, shape_id: "c", status: "running" })).toHaveLength(3);
  });
});
