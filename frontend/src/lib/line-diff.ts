/** A line diff of two texts (longest common subsequence), for comparing script versions. Pure. */
export type DiffLine =
  | { kind: "same"; text: string; old: number; new: number }
  | { kind: "removed"; text: string; old: number }
  | { kind: "added"; text: string; new: number };

/** Beyond this many lines on both sides the table would be too large; the common prefix and suffix are
 * still matched and the middle is shown as removed then added. */
export const DIFF_CELL_LIMIT = 4_000_000;

export function diffLines(before: string, after: string): DiffLine[] {
  const a = before.split("\n");
  const b = after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const out: DiffLine[] = [];
  for (let i = 0; i < start; i++) out.push({ kind: "same", text: a[i] ?? "", old: i + 1, new: i + 1 });
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  if (midA.length * midB.length > DIFF_CELL_LIMIT) {
    midA.forEach((text, i) => out.push({ kind: "removed", text, old: start + i + 1 }));
    midB.forEach((text, i) => out.push({ kind: "added", text, new: start + i + 1 }));
  } else {
    // lengths[i][j]: the longest common subsequence of midA[i..] and midB[j..].
    const width = midB.length + 1;
    const lengths = new Uint32Array((midA.length + 1) * width);
    for (let i = midA.length - 1; i >= 0; i--) {
      for (let j = midB.length - 1; j >= 0; j--) {
        lengths[i * width + j] =
          midA[i] === midB[j]
            ? (lengths[(i + 1) * width + j + 1] ?? 0) + 1
            : Math.max(lengths[(i + 1) * width + j] ?? 0, lengths[i * width + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < midA.length || j < midB.length) {
      if (i < midA.length && j < midB.length && midA[i] === midB[j]) {
        out.push({ kind: "same", text: midA[i] ?? "", old: start + i + 1, new: start + j + 1 });
        i++;
        j++;
      } else if (
        i < midA.length &&
        (j >= midB.length || (lengths[(i + 1) * width + j] ?? 0) >= (lengths[i * width + j + 1] ?? 0))
      ) {
        out.push({ kind: "removed", text: midA[i] ?? "", old: start + i + 1 });
        i++;
      } else {
        out.push({ kind: "added", text: midB[j] ?? "", new: start + j + 1 });
        j++;
      }
    }
  }
  for (let k = 0; k < a.length - endA; k++) {
    out.push({ kind: "same", text: a[endA + k] ?? "", old: endA + k + 1, new: endB + k + 1 });
  }
  return out;
}
