import { describe, expect, it } from "vitest";
import { mergeBySeq } from "./socket";

const line = (seq: number) => ({ seq, message: `line ${seq}` });

describe("mergeBySeq", () => {
  it("appends new lines and drops ones already seen", () => {
    const merged = mergeBySeq([line(1), line(2)], [line(2), line(3)]);
    expect(merged.map((l) => l.seq)).toEqual([1, 2, 3]);
  });

  it("fills a gap delivered out of order", () => {
    const merged = mergeBySeq([line(1), line(4)], [line(3), line(2), line(5)]);
    expect(merged.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it("returns the same array when nothing is new", () => {
    const existing = [line(1)];
    expect(mergeBySeq(existing, [line(1)])).toBe(existing);
    expect(mergeBySeq(existing, [])).toBe(existing);
  });
});
