/**
 * Running from the designer: the "Run with payload" dialog and the dock with the live run log. The dock
 * follows a run's queued retry (response code 2) so the canvas keeps showing the attempt that runs.
 */
import { useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";
import { Link } from "react-router";
import { getRunGraph } from "../../api/flows";
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
  // A run paints only the canvas shapes of the graph it executes, unchanged: a deployed version's, or the
  // draft snapshot a test run took when it was queued. A shape added or changed on the canvas since is not
  // what runs. Until that graph is here nothing is painted (no guess from the canvas).
  const setOverlayScope = useDesigner((s) => s.setOverlayScope);
  const known = run !== null;
  useEffect(() => {
    if (!known) return;
    let live = true;
    setOverlayScope({});
    getRunGraph(runId)
      .then((ran) => {
        if (!live) return;
        const scope: Record<string, string> = {};
        for (const shape of parseGraph(ran.graph).shapes) scope[shape.id] = shapeRunKey(shape);
        setOverlayScope(scope);
      })
      .catch(() => {
        // Without the run's graph the canvas cannot tell which shapes ran: it paints none of them.
      });
    return () => {
      live = false;
      setOverlayScope(null);
    };
  }, [runId, known, setOverlayScope]);
  const ranLabel = run?.flow_version_number ?? deployedVersion ?? "?";
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
        {run !== null && notRun > 0 ? (
          <span className="hint" data-testid="dock-draft-differs">
            {run.is_test
              ? `showing the live status of the draft as this test run took it; the canvas changed since (${notRun} shape${notRun === 1 ? "" : "s"} added or changed show none)`
              : `showing the live status of deployed v${ranLabel}; the draft differs (${notRun} shape${notRun === 1 ? "" : "s"} on the canvas not in v${ranLabel} or changed since show none)`}
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
