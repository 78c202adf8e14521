/** The run page's retry choices: from the start or from the failed step, with the run's own flow version
 * or the flow's deployed one (`POST /api/runs/{id}/retry/`). */
import type { ReactNode } from "react";
import { useState } from "react";
import { api, errorMessage } from "../../api/client";

type RetryFrom = "start" | "failed_step";
type RetryVersion = "original" | "deployed";

export function RetryControls(props: {
  runId: number;
  status: string;
  onRetried: (newRunId: number) => void;
  onRefused: (message: string) => void;
}): ReactNode {
  const [version, setVersion] = useState<RetryVersion>("original");
  const [busy, setBusy] = useState(false);
  const retry = async (from: RetryFrom): Promise<void> => {
    setBusy(true);
    try {
      const created = await api.post<{ id: number }>(`/api/runs/${props.runId}/retry/`, { from, version });
      props.onRetried(created.id);
    } catch (e) {
      props.onRefused(`Retry refused: ${errorMessage(e)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="retry-controls" data-testid="retry-controls">
      <select
        aria-label="Flow version of the retry"
        value={version}
        disabled={busy}
        onChange={(e) => setVersion(e.target.value as RetryVersion)}
      >
        <option value="original">with this run's version</option>
        <option value="deployed">with the deployed version</option>
      </select>
      {props.status === "failed" ? (
        <button type="button" className="primary" disabled={busy} onClick={() => void retry("failed_step")}>
          Retry from failed step
        </button>
      ) : null}
      <button
        type="button"
        className={props.status === "failed" ? undefined : "primary"}
        disabled={busy}
        onClick={() => void retry("start")}
      >
        Retry from start
      </button>
    </div>
  );
}
