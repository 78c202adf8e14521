/**
 * The flow designer: palette, canvas, settings panel, versions, deploy and runs with a live overlay.
 *
 * This file only lays the parts out; each lives in `pages/designer/`, and everything that talks to the server
 * is an action of `store/flow-session.ts` (persistence) or `store/designer.ts` (the canvas).
 */
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useState } from "react";
import type { ReactNode } from "react";
import { Link, useParams } from "react-router";
import { Loading, Notice } from "../components/ui";
import { SHAPE_HEIGHT, SHAPE_WIDTH } from "../lib/graph";
import { freeSpot } from "../lib/placement";
import type { ShapeType } from "../shapes/types";
import { useCanWrite } from "../session";
import { useDesigner } from "../store/designer";
import { useFlowSession } from "../store/flow-session";
import { useResources } from "../store/resources";
import { DesignerCanvas } from "./designer/canvas";
import { Inspector } from "./designer/inspector";
import { Palette } from "./designer/palette";
import { RunDialog, RunDock } from "./designer/run-dock";
import { DesignerToolbar } from "./designer/toolbar";
import { QuickAdd, ShortcutSheet } from "./designer/quick-add";
import { useDesignerShortcuts } from "./designer/use-designer-shortcuts";
import { useDraftAutosave } from "./designer/use-draft-autosave";
import { ConflictDialog } from "../components/conflict-dialog";
import { LeaveGuardDialog } from "../components/leave-guard";
import { VersionsPanel } from "./designer/versions-panel";

function Designer({ flowId }: { flowId: number }): ReactNode {
  const readOnly = !useCanWrite();
  const { screenToFlowPosition, setCenter, getZoom } = useReactFlow();
  const notice = useDesigner((s) => s.notice);
  const lookupsError = useResources((s) => s.error);
  const flow = useFlowSession((s) => (s.flowId === flowId ? s.flow : null));
  const loaded = useFlowSession((s) => s.flowId === flowId && s.loaded);
  const loadError = useFlowSession((s) => (s.flowId === flowId ? s.loadError : null));
  const initialViewport = useFlowSession((s) => s.initialViewport);
  const message = useFlowSession((s) => s.message);
  const runId = useFlowSession((s) => s.runId);
  const conflict = useFlowSession((s) => (s.flowId === flowId ? s.conflict : null));
  const followRun = useFlowSession((s) => s.followRun);
  const deployedVersion = useFlowSession((s) => s.draftStatus.deployedVersion);
  const session = useFlowSession.getState;
  const [showVersions, setShowVersions] = useState(false);
  const [showRunDialog, setShowRunDialog] = useState(false);
  const [quickAdd, setQuickAdd] = useState(false);
  const [showShortcuts, setShowShortcuts] = useState(false);
  const openQuickAdd = useCallback(() => setQuickAdd(true), []);
  const openShortcuts = useCallback(() => setShowShortcuts(true), []);
  const anchorName = useDesigner((s) => {
    const selected = s.nodes.filter((n) => n.selected);
    return selected.length === 1 ? (selected[0]?.data.shape.name ?? null) : null;
  });

  // Open at the fitted view straight away (the pane is the window minus the bars and side panels).
  useEffect(
    () => session().open(flowId, { width: window.innerWidth - 510, height: window.innerHeight - 100 }),
    [flowId, session],
  );
  const leaving = useDraftAutosave(readOnly);
  useDesignerShortcuts(readOnly, { onQuickAdd: openQuickAdd, onHelp: openShortcuts });

  const addAtCentre = useCallback(
    (type: ShapeType): void => {
      const pane = document.querySelector(".canvas")?.getBoundingClientRect();
      const point = pane
        ? { x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 }
        : { x: 400, y: 300 };
      const position = screenToFlowPosition(point);
      const store = useDesigner.getState();
      // After the selected shape (connected to it), else on a free spot near the centre: never on top.
      const centre = freeSpot(store.graph(), {
        x: position.x - SHAPE_WIDTH / 2,
        y: position.y - SHAPE_HEIGHT / 2,
      });
      const id = store.insertAfterSelection(type, centre);
      // Bring the new shape into view (the canvas only draws what is visible).
      const added = useDesigner.getState().nodes.find((n) => n.id === id);
      if (added) {
        void setCenter(added.position.x + SHAPE_WIDTH / 2, added.position.y + SHAPE_HEIGHT / 2, {
          zoom: getZoom(),
          duration: 150,
        });
      }
    },
    [screenToFlowPosition, setCenter, getZoom],
  );

  if (loadError) {
    return (
      <div className="page">
        <Notice kind="error">{loadError}</Notice>
        <Link to="/flows">Back to the flows</Link>
      </div>
    );
  }
  if (!flow) return <Loading />;

  return (
    <div className="designer">
      <DesignerToolbar
        flow={flow}
        readOnly={readOnly}
        showVersions={showVersions}
        onToggleVersions={() => setShowVersions((v) => !v)}
        onRunWithPayload={() => setShowRunDialog(true)}
      />
      <LeaveGuardDialog
        guard={leaving}
        what="flow"
        canRetry={conflict === null}
        reason={
          conflict
            ? "The draft was saved elsewhere meanwhile, so your edit was not saved."
            : message?.kind === "error"
              ? message.text
              : "The draft could not be saved."
        }
      />
      {conflict && leaving.state === null ? (
        <ConflictDialog
          what="This flow's draft"
          revision={conflict.revision}
          onReload={() => void session().reloadDraft()}
          onOverwrite={() => void session().overwriteDraft()}
        />
      ) : null}
      {message ? (
        <Notice kind={message.kind} onClose={() => session().setMessage(null)}>
          {message.text}
        </Notice>
      ) : null}
      {notice ? (
        <Notice kind="info" onClose={() => useDesigner.getState().setNotice(null)}>
          {notice}
        </Notice>
      ) : null}
      {lookupsError ? (
        <Notice kind="error">Could not load connectors and scripts: {lookupsError}</Notice>
      ) : null}
      <div className="designer-body">
        <Palette onAdd={addAtCentre} readOnly={readOnly} />
        <DesignerCanvas
          readOnly={readOnly}
          loaded={loaded}
          initialViewport={initialViewport}
          runOpen={runId !== null}
        />
        <Inspector flow={flow} readOnly={readOnly} />
        {showVersions ? (
          <VersionsPanel flowId={flowId} readOnly={readOnly} onClose={() => setShowVersions(false)} />
        ) : null}
      </div>
      {runId !== null ? (
        <RunDock
          runId={runId}
          deployedVersion={deployedVersion}
          onClose={() => session().closeRun()}
          onFollow={followRun}
        />
      ) : null}
      {quickAdd ? (
        <QuickAdd
          anchorName={anchorName}
          onClose={() => setQuickAdd(false)}
          onPick={(type) => {
            setQuickAdd(false);
            addAtCentre(type);
          }}
        />
      ) : null}
      {showShortcuts ? <ShortcutSheet onClose={() => setShowShortcuts(false)} /> : null}
      {showRunDialog ? (
        <RunDialog
          onClose={() => setShowRunDialog(false)}
          onRun={(payload, variables) => {
            setShowRunDialog(false);
            void session().startRun(payload, variables);
          }}
        />
      ) : null}
    </div>
  );
}

export function DesignerPage(): ReactNode {
  const { flowId } = useParams();
  const id = Number(flowId);
  if (!Number.isInteger(id) || id <= 0) return <Notice kind="error">That is not a flow id.</Notice>;
  return (
    <ReactFlowProvider>
      <Designer key={id} flowId={id} />
    </ReactFlowProvider>
  );
}
