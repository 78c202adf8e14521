/** The designer's toolbar: save state, undo / redo, layout, validate, versions, deploy and run. */
import { useReactFlow } from "@xyflow/react";
import type { ReactNode } from "react";
import { Link } from "react-router";
import type { Flow } from "../../api/types";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";
import type { SaveState } from "../../store/flow-session";

const SAVE_STATE_TEXT: Record<SaveState, string> = {
  saved: "Draft saved",
  saving: "Saving…",
  unsaved: "Unsaved changes",
  error: "Not saved",
};

export function DesignerToolbar({
  flow,
  readOnly,
  showVersions,
  onToggleVersions,
  onRunWithPayload,
}: {
  flow: Flow;
  readOnly: boolean;
  showVersions: boolean;
  onToggleVersions: () => void;
  onRunWithPayload: () => void;
}): ReactNode {
  const { fitView } = useReactFlow();
  const saveState = useFlowSession((s) => s.saveState);
  const session = useFlowSession.getState;
  const canUndo = useDesigner((s) => s.history.past.length > 0);
  const canRedo = useDesigner((s) => s.history.future.length > 0);
  const store = useDesigner.getState;
  return (
    <div className="toolbar" role="toolbar" aria-label="Designer">
      <Link to="/flows" className="back" aria-label="Back to flows">
        ←
      </Link>
      <h1 className="flow-title">{flow.name}</h1>
      <span className={`save-state save-${saveState}`} data-testid="save-state">
        {readOnly ? "read only" : SAVE_STATE_TEXT[saveState]}
      </span>
      <span className="hint">
        {flow.deployed_version ? `deployed v${flow.deployed_version}` : "not deployed"}
      </span>
      <div className="spacer" />
      {!readOnly ? (
        <>
          <button type="button" onClick={() => store().undo()} disabled={!canUndo} title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button type="button" onClick={() => store().redo()} disabled={!canRedo} title="Redo (Ctrl+Y)">
            Redo
          </button>
          <button
            type="button"
            onClick={() => {
              store().layout();
              window.requestAnimationFrame(() => void fitView({ padding: 0.2 }));
            }}
            title="Arrange the shapes automatically"
          >
            Auto-layout
          </button>
        </>
      ) : null}
      <button type="button" onClick={() => void fitView({ padding: 0.2 })}>
        Fit
      </button>
      <button type="button" onClick={() => void session().validate()}>
        Validate
      </button>
      <button type="button" onClick={onToggleVersions} aria-pressed={showVersions}>
        Versions
      </button>
      {!readOnly ? (
        <>
          <button type="button" className="primary" onClick={() => void session().deploy()}>
            Deploy
          </button>
          <button
            type="button"
            onClick={() => void session().startRun(null, {})}
            disabled={!flow.deployed_version}
            title={flow.deployed_version ? "Run the deployed version" : "Deploy first"}
          >
            Run now
          </button>
          <button type="button" onClick={onRunWithPayload} disabled={!flow.deployed_version}>
            Run with payload…
          </button>
        </>
      ) : null}
    </div>
  );
}
