import { describe, expect, it } from "vitest";
describe("build", () => {
  it("runs", () => {
    expect(1 + 1).toBe(2);
  });
});
