import { describe, expect, it } from "vitest";
import { displayStatus, retryRunIn, splitRunMentions } from "./run-links";

describe("splitRunMentions", () => {
  it("finds the runs a log line names", () => {
    expect(splitRunMentions("Run attempt 2 queued as run 14 in 5.0 s")).toEqual([
      "Run attempt 2 queued as ",
      { run: 14, text: "run 14" },
      " in 5.0 s",
    ]);
  });

  it("leaves a line without run numbers alone", () => {
    expect(splitRunMentions("Run started (attempt 1, flow version 2)")).toEqual([
      "Run started (attempt 1, flow version 2)",
    ]);
  });
});

describe("retryRunIn", () => {
  it("returns the newest retry a run's log announces", () => {
    const lines = [
      { message: "Run started" },
      { message: "Run attempt 2 queued as run 14 in 1.0 s" },
      { message: "Retried manually as run 20 by alice" },
    ];
    expect(retryRunIn(lines)).toBe(20);
    expect(retryRunIn(lines.slice(0, 1))).toBeNull();
  });
});

describe("displayStatus", () => {
  it("tells a run waiting for a step retry from a queued one", () => {
    expect(displayStatus({ status: "queued", started_at: null })).toBe("queued");
    expect(displayStatus({ status: "queued", started_at: "2026-01-01T00:00:00Z" })).toBe("retrying_step");
    expect(displayStatus({ status: "queued", started_at: "x" }, [{ status: "retrying" }])).toBe(
      "retrying_step",
    );
    expect(displayStatus({ status: "failed", started_at: "x" })).toBe("failed");
  });
});
