import { describe, expect, it } from "vitest";
import { summarize } from "./bulk-actions";

describe("the bulk action summary", () => {
  it("counts what was done per outcome in words", () => {
    expect(
      summarize({
        action: "stop",
        results: [],
        counts: { stopped: 2, stop_requested: 1, refused: 3, not_found: 1 },
      }),
    ).toBe("2 stopped, 1 asked to stop, 3 refused, 1 not found");
  });

  it("says so when nothing matched", () => {
    expect(summarize({ action: "retry", results: [], counts: {} })).toBe("No run matched.");
  });
});
