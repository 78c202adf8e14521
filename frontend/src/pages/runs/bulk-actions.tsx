/** Bulk retry / stop of the runs list: the selected runs, or every run matching the filters
 * (`POST /api/runs/bulk/`), with what was done per run. */
import type { ReactNode } from "react";
import { useState } from "react";
import { api, errorMessage } from "../../api/client";
import { Notice } from "../../components/ui";

type BulkAction = "retry" | "stop";

interface BulkResult {
  run: number;
  outcome: string;
  detail: string;
  retry?: number;
}

export interface BulkAnswer {
  action: BulkAction;
  results: BulkResult[];
  counts: Record<string, number>;
}

const OUTCOME_WORDS: Record<string, string> = {
  retried: "retried",
  stopped: "stopped",
  stop_requested: "asked to stop",
  refused: "refused",
  not_found: "not found",
};

export function summarize(answer: BulkAnswer): string {
  const parts = Object.entries(answer.counts).map(
    ([outcome, n]) => `${n} ${OUTCOME_WORDS[outcome] ?? outcome}`,
  );
  return parts.length ? parts.join(", ") : "No run matched.";
}

export function BulkActions(props: {
  selected: number[];
  filters: Record<string, string>;
  onDone: () => void;
}): ReactNode {
  const [answer, setAnswer] = useState<BulkAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const activeFilters = Object.fromEntries(
    Object.entries(props.filters)
      .filter(([, value]) => value)
      .map(([key, value]) => [key, key.startsWith("started_") ? new Date(value).toISOString() : value]),
  );
  const hasFilters = Object.keys(activeFilters).length > 0;

  const apply = async (action: BulkAction, target: "selected" | "filter"): Promise<void> => {
    if (
      target === "filter" &&
      !window.confirm(`${action === "retry" ? "Retry" : "Stop"} every run matching the filters?`)
    ) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body =
        target === "selected" ? { action, ids: props.selected } : { action, filter: activeFilters };
      setAnswer(await api.post<BulkAnswer>("/api/runs/bulk/", body));
      props.onDone();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const refused = answer?.results.filter((r) => r.outcome === "refused" || r.outcome === "not_found") ?? [];
  return (
    <div className="bulk-actions" data-testid="bulk-actions">
      <span className="hint">{props.selected.length} selected</span>
      <button
        type="button"
        disabled={busy || props.selected.length === 0}
        onClick={() => void apply("retry", "selected")}
      >
        Retry selected
      </button>
      <button
        type="button"
        disabled={busy || props.selected.length === 0}
        onClick={() => void apply("stop", "selected")}
      >
        Stop selected
      </button>
      {hasFilters ? (
        <>
          <button type="button" disabled={busy} onClick={() => void apply("retry", "filter")}>
            Retry all matching
          </button>
          <button type="button" disabled={busy} onClick={() => void apply("stop", "filter")}>
            Stop all matching
          </button>
        </>
      ) : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {answer ? (
        <Notice kind={refused.length ? "info" : "success"} onClose={() => setAnswer(null)}>
          <span data-testid="bulk-summary">
            {answer.action === "retry" ? "Retry" : "Stop"}: {summarize(answer)}
          </span>
          {refused.length ? (
            <ul className="bulk-refusals">
              {refused.map((r) => (
                <li key={r.run}>
                  #{r.run}: {r.detail}
                </li>
              ))}
            </ul>
          ) : null}
        </Notice>
      ) : null}
    </div>
  );
}
