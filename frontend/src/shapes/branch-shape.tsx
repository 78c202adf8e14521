import type { ReactNode } from "react";
import type { PanelProps } from "./definition";
import { defineShape } from "./definition";

export type BranchSettings = Record<string, never>;

function BranchPanel(_props: PanelProps<"branch">): ReactNode {
  return (
    <p className="hint">
      A branch has no settings. Its outgoing connections are numbered 1 to 6 (select a connection to change
      its order); branch 1 finishes before branch 2 starts, and a failure stops the later branches.
    </p>
  );
}

export const branchShape = defineShape<"branch">({
  type: "branch",
  color: "var(--shape-branch)",
  icon: "☰",
  summary: () => "Sequential paths",
  Panel: BranchPanel,
  defaults: () => ({}),
});
