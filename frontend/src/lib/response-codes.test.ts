import { describe, expect, it } from "vitest";
import { describeResponseCode } from "./response-codes";

describe("describeResponseCode", () => {
  it("says what code 2 does with the flow's run retries", () => {
    expect(describeResponseCode(2, [{ name: "Orders", max_run_retries: 3 }])).toBe(
      "code 2: the run fails and is queued again; this flow allows 3 run retries",
    );
  });

  it("warns that code 2 never retries in a flow that allows none", () => {
    expect(describeResponseCode(2, [{ name: "Orders", max_run_retries: 0 }])).toBe(
      "code 2: this flow allows no run retries, so code 2 fails the run for good: set run retries in the flow settings",
    );
  });

  it("lists each flow when several use the script", () => {
    expect(
      describeResponseCode(2, [
        { name: "A", max_run_retries: 1 },
        { name: "B", max_run_retries: 3 },
      ]),
    ).toContain("1 run retry (A), 3 run retries (B)");
  });

  it("treats a missing code as 0 and names unknown codes", () => {
    expect(describeResponseCode(undefined, [])).toMatch(/^code 0: the step continues/);
    expect(describeResponseCode(9, [])).toMatch(/not a response code/);
  });
});
