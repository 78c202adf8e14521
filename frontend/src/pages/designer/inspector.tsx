/** The right-hand side panel: what is selected decides which settings it shows. */
import { useMemo } from "react";
import type { ReactNode } from "react";
import type { Flow } from "../../api/types";
import { useDesigner } from "../../store/designer";
import { useResources } from "../../store/resources";
import { FlowPanel } from "./flow-panel";
import { ConnectionPanel, ShapePanel } from "./shape-panel";

export function Inspector({ flow, readOnly }: { flow: Flow; readOnly: boolean }): ReactNode {
  const nodes = useDesigner((s) => s.nodes);
  const edges = useDesigner((s) => s.edges);
  const errors = useDesigner((s) => s.errors);
  const lookups = useResources();

  const selectedNodes = useMemo(() => nodes.filter((n) => n.selected), [nodes]);
  const selectedEdges = useMemo(() => edges.filter((e) => e.selected), [edges]);
  const shapeIds = useMemo(() => new Set(nodes.map((n) => n.id)), [nodes]);
  // Problems that no shape on the canvas shows go to the flow panel (all of them when every one has a home).
  const graphLevelErrors = useMemo(() => {
    const unplaced = errors.filter((e) => e.shape === null || !shapeIds.has(e.shape));
    return unplaced.length > 0 ? unplaced : errors;
  }, [errors, shapeIds]);

  const one = selectedNodes.length === 1 ? selectedNodes[0] : undefined;
  return (
    <aside className="inspector" aria-label="Settings">
      {one ? (
        <ShapePanel shape={one.data.shape} errors={one.data.errors} lookups={lookups} readOnly={readOnly} />
      ) : selectedEdges.length === 1 && selectedNodes.length === 0 && selectedEdges[0] ? (
        <ConnectionPanel edgeId={selectedEdges[0].id} readOnly={readOnly} />
      ) : selectedNodes.length > 1 ? (
        <div className="settings">
          <div className="panel-title">{selectedNodes.length} shapes selected</div>
          <p className="hint">Delete removes them; Ctrl+C / Ctrl+V copies them.</p>
        </div>
      ) : (
        <FlowPanel flow={flow} errors={graphLevelErrors} readOnly={readOnly} />
      )}
    </aside>
  );
}
