import { describe, expect, it } from "vitest";
import { diffLines } from "./line-diff";

describe("diffLines", () => {
  it("marks nothing for equal texts", () => {
    expect(diffLines("a\nb", "a\nb").every((line) => line.kind === "same")).toBe(true);
  });

  it("finds a changed line between common ones", () => {
    const diff = diffLines(
      "def handle(data):\n    return data\n",
      "def handle(data):\n    data['x'] = 1\n    return data\n",
    );
    expect(diff.map((line) => line.kind)).toEqual(["same", "added", "same", "same"]);
    expect(diff[1]).toEqual({ kind: "added", text: "    data['x'] = 1", new: 2 });
  });

  it("shows a replaced line as removed then added, with line numbers of each side", () => {
    const diff = diffLines("one\ntwo\nthree", "one\n2\nthree");
    expect(diff).toEqual([
      { kind: "same", text: "one", old: 1, new: 1 },
      { kind: "removed", text: "two", old: 2 },
      { kind: "added", text: "2", new: 2 },
      { kind: "same", text: "three", old: 3, new: 3 },
    ]);
  });

  it("handles an empty side", () => {
    expect(diffLines("", "x").map((line) => line.kind)).toEqual(["removed", "added"]);
  });
});
