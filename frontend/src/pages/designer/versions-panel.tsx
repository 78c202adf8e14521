/** The versions drawer: every version of the flow, and "Restore as draft" for the earlier ones. */
import { useEffect, useState } from "react";
import type { ReactNode } from "react";
import { errorMessage } from "../../api/client";
import { listFlowVersions } from "../../api/flows";
import type { FlowVersion } from "../../api/types";
import { formatTime, Loading, Notice, StatusPill } from "../../components/ui";
import { useFlowSession } from "../../store/flow-session";

export function VersionsPanel({
  flowId,
  onClose,
  readOnly,
}: {
  flowId: number;
  onClose: () => void;
  readOnly: boolean;
}): ReactNode {
  const restoreVersion = useFlowSession((s) => s.restoreVersion);
  const [versions, setVersions] = useState<FlowVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    listFlowVersions(flowId)
      .then(setVersions)
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [flowId]);
  const restore = async (number: number): Promise<void> => {
    if (!window.confirm(`Replace the draft with version ${number}?`)) return;
    try {
      await restoreVersion(number);
      onClose();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <div className="drawer" role="dialog" aria-label="Versions">
      <div className="drawer-head">
        <strong>Versions</strong>
        <button type="button" className="icon-button" aria-label="Close versions" onClick={onClose}>
          ×
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {versions === null ? (
        <Loading />
      ) : (
        <ul className="versions">
          {versions.map((v) => (
            <li key={v.number ?? "draft"}>
              <div>
                <strong>{v.number === null ? "Draft" : `v${v.number}`}</strong>{" "}
                <StatusPill status={v.status} />
                <div className="hint">
                  {v.deployed_at
                    ? `deployed ${formatTime(v.deployed_at)}${v.deployed_by ? ` by ${String(v.deployed_by)}` : ""}`
                    : `edited ${formatTime(v.created_at)}`}
                  {v.comment ? ` · ${v.comment}` : ""}
                </div>
              </div>
              {v.number !== null && !readOnly ? (
                <button type="button" className="small" onClick={() => void restore(v.number as number)}>
                  Restore as draft
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
