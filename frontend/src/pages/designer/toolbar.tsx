/**
 * The designer's toolbar: save state, how the draft relates to the deployed version, undo / redo, layout,
 * validate, versions, deploy and run. Run now with undeployed changes asks what to run: the deployed
 * version, the draft deployed first, or a test run of the draft.
 */
import { useReactFlow } from "@xyflow/react";
import { useState } from "react";
import type { ReactNode } from "react";
import { Link } from "react-router";
import type { Flow } from "../../api/types";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";
import type { RunKind, SaveState } from "../../store/flow-session";

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
  const { deployedVersion, differs } = useFlowSession((s) => s.draftStatus);
  const [choosing, setChoosing] = useState(false);
  const run = (kind: RunKind): void => {
    setChoosing(false);
    void session().startRun(null, {}, kind);
  };
  const runNowTitle =
    deployedVersion === null
      ? "Not deployed yet: deploy and run, or test-run the draft"
      : differs
        ? `Runs deployed v${deployedVersion}, not the draft you see`
        : `Runs deployed v${deployedVersion} (the same as the draft)`;
  return (
    <div className="toolbar" role="toolbar" aria-label="Designer">
      <Link to="/flows" className="back" aria-label="Back to flows">
        ←
      </Link>
      <h1 className="flow-title">{flow.name}</h1>
      <span className={`save-state save-${saveState}`} data-testid="save-state">
        {readOnly ? "read only" : SAVE_STATE_TEXT[saveState]}
      </span>
      <span
        className={`draft-state${differs ? " draft-differs" : ""}`}
        data-testid="draft-state"
        title={runNowTitle}
      >
        {deployedVersion === null
          ? "not deployed"
          : differs
            ? `draft differs from deployed v${deployedVersion}`
            : `deployed v${deployedVersion} = draft`}
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
              window.requestAnimationFrame(() => void fitView({ padding: 0.2, maxZoom: 1 }));
            }}
            title="Arrange the shapes automatically"
          >
            Auto-layout
          </button>
        </>
      ) : null}
      <button type="button" onClick={() => void fitView({ padding: 0.2, maxZoom: 1 })}>
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
          <span className="run-now">
            <button
              type="button"
              onClick={() =>
                deployedVersion !== null && !differs ? run("deployed") : setChoosing((c) => !c)
              }
              title={runNowTitle}
              aria-haspopup={deployedVersion === null || differs ? "menu" : undefined}
              aria-expanded={choosing}
            >
              Run now
            </button>
            {choosing ? (
              <div className="run-menu" role="menu" aria-label="What to run">
                <div className="hint">
                  {deployedVersion === null
                    ? "The flow is not deployed yet."
                    : `The draft has changes that deployed v${deployedVersion} does not have.`}
                </div>
                <button type="button" role="menuitem" onClick={() => run("deploy-and-run")}>
                  Deploy and run
                </button>
                <button type="button" role="menuitem" onClick={() => run("test")}>
                  Test run of the draft
                </button>
                {deployedVersion !== null ? (
                  <button type="button" role="menuitem" onClick={() => run("deployed")}>
                    Run deployed v{deployedVersion}
                  </button>
                ) : null}
              </div>
            ) : null}
          </span>
          <button type="button" onClick={() => run("test")} title="Run the draft as it is, without deploying">
            Test run
          </button>
          <button type="button" onClick={onRunWithPayload} disabled={!flow.deployed_version}>
            Run with payload…
          </button>
        </>
      ) : null}
    </div>
  );
}
