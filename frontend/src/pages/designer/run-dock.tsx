/**
 * Running from the designer: the "Run with payload" dialog and the dock with the live run log. The dock
 * follows a run's queued retry (response code 2) so the canvas keeps showing the attempt that runs.
 */
import { useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";
import { Link } from "react-router";
import { getFlowVersion } from "../../api/flows";
import { TERMINAL_STATUSES } from "../../api/types";
import { LogMessage } from "../../components/log-stream";
import { StatusPill } from "../../components/ui";
import { useRun } from "../../hooks/use-run";
import { overlayFromSteps } from "../../lib/overlay";
import { displayStatus, retryRunIn } from "../../lib/run-links";
import { KeyValueEditor } from "../../shapes/fields";
import { ranOnCanvas, shapeRunKey, useDesigner } from "../../store/designer";
import { parseGraph } from "../../lib/serialize";

export function RunDialog({
  onRun,
  onClose,
}: {
  onRun: (payload: string | null, variables: Record<string, string>) => void;
  onClose: () => void;
}): ReactNode {
  const [payload, setPayload] = useState("");
  const [variables, setVariables] = useState<Record<string, string>>({});
  return (
    <div className="modal-backdrop" role="presentation" onClick={onClose}>
      <div className="modal" role="dialog" aria-label="Run with payload" onClick={(e) => e.stopPropagation()}>
        <h2>Run with a payload</h2>
        <div className="field">
          <label htmlFor="run-payload">Input payload</label>
          <textarea
            id="run-payload"
            className="mono"
            rows={8}
            value={payload}
            placeholder='{"order_id": 42}'
            onChange={(e) => setPayload(e.target.value)}
          />
        </div>
        <KeyValueEditor
          label="Variables"
          value={variables}
          onChange={setVariables}
          valuePlaceholder="value"
        />
        <div className="modal-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="primary"
            onClick={() => onRun(payload === "" ? null : payload, variables)}
          >
            Start run
          </button>
        </div>
      </div>
    </div>
  );
}

/** Watches run `runId` over its websocket, paints its step statuses on the canvas and tails its log. */
export function RunDock({
  runId,
  onClose,
  onFollow,
  deployedVersion,
}: {
  runId: number;
  onClose: () => void;
  /** Called with the retry run once this run has ended and queued one. */
  onFollow: (runId: number) => void;
  deployedVersion: number | null;
}): ReactNode {
  const { run, steps, logs } = useRun(runId);
  const retry = retryRunIn(logs);
  const ended = run !== null && TERMINAL_STATUSES.has(run.status);
  useEffect(() => {
    if (ended && retry !== null && retry !== runId) onFollow(retry);
  }, [ended, retry, runId, onFollow]);
  const setOverlay = useDesigner((s) => s.setOverlay);
  useEffect(() => {
    setOverlay(runId, overlayFromSteps(steps));
  }, [runId, steps, setOverlay]);
  // A run of a deployed version paints only the canvas shapes that version has, unchanged: a shape added or
  // changed in the draft since is not what runs. Until the version's graph is here nothing is painted.
  const flowId = useDesigner((s) => s.flowId);
  const setOverlayScope = useDesigner((s) => s.setOverlayScope);
  const ranVersion = run === null || run.is_test ? null : (run.flow_version_number ?? null);
  useEffect(() => {
    if (ranVersion === null || flowId === null) return;
    let live = true;
    setOverlayScope({});
    getFlowVersion(flowId, ranVersion)
      .then((version) => {
        if (!live) return;
        const scope: Record<string, string> = {};
        for (const shape of parseGraph(version.graph).shapes) scope[shape.id] = shapeRunKey(shape);
        setOverlayScope(scope);
      })
      .catch(() => {
        // Without the version's graph the canvas cannot tell which shapes ran: it paints none of them.
      });
    return () => {
      live = false;
      setOverlayScope(null);
    };
  }, [flowId, ranVersion, setOverlayScope]);
  const notRun = useDesigner((s) =>
    s.overlayScope === null ? 0 : s.nodes.filter((n) => !ranOnCanvas(n.data.shape, s.overlayScope)).length,
  );
  const end = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    end.current?.scrollIntoView({ block: "nearest" });
  }, [logs.length]);
  return (
    <div className="run-drawer" data-testid="run-drawer">
      <div className="drawer-head">
        <strong>
          Run <Link to={`/runs/${runId}`}>#{runId}</Link>
        </strong>
        <StatusPill status={run ? displayStatus(run, steps) : undefined} />
        <span className="hint" data-testid="dock-runs-what">
          {run === null
            ? ""
            : run.is_test
              ? "test run of the draft"
              : `deployed v${run.flow_version_number ?? deployedVersion ?? "?"}`}
          {run && run.attempt > 1 ? ` · attempt ${run.attempt}` : ""}
        </span>
        {ranVersion !== null && notRun > 0 ? (
          <span className="hint" data-testid="dock-draft-differs">
            showing the live status of deployed v{ranVersion}; the draft differs ({notRun} shape
            {notRun === 1 ? "" : "s"} on the canvas not in v{ranVersion} or changed since show none)
          </span>
        ) : null}
        <span className="hint">
          {steps.length} steps · {logs.length} log lines
        </span>
        <button type="button" className="icon-button" aria-label="Close run" onClick={onClose}>
          ×
        </button>
      </div>
      <div className="log mini-log" data-testid="designer-log">
        {logs.length === 0 ? <div className="hint">Waiting for log lines…</div> : null}
        {logs.slice(-200).map((line) => (
          <div key={line.seq} className={`log-line level-${line.level}`}>
            <span className="log-seq">{line.seq}</span>
            <span className="log-level">{line.level}</span>
            <span className="log-message">
              <LogMessage text={line.message} />
            </span>
          </div>
        ))}
        <div ref={end} />
      </div>
    </div>
  );
}
