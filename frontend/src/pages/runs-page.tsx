/** Runs list with the history API's filters, updated live from the /ws/runs/ feed. */
import { useEffect, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";
import { Link, useSearchParams } from "react-router";
import { api, errorMessage, getAll, query } from "../api/client";
import type { Page } from "../api/client";
import type { Flow, RunSummary } from "../api/types";
import { RUN_STATUSES, TERMINAL_STATUSES } from "../api/types";
import { Empty, formatDuration, formatTime, Loading, Notice, StatusPill } from "../components/ui";
import { displayStatus } from "../lib/run-links";
import { LiveSocket } from "../lib/socket";
import type { SocketState } from "../lib/socket";
import { useCanWrite } from "../session";
import { BulkActions } from "./runs/bulk-actions";

const TRIGGERS = ["manual", "api", "webhook", "schedule", "run_flow", "retry"];
const FILTERS = ["flow", "status", "trigger", "started_from", "started_to", "has_warnings"] as const;

function matches(run: RunSummary, filters: Record<string, string>): boolean {
  if (filters.flow && String(run.flow) !== filters.flow) return false;
  if (filters.status && run.status !== filters.status) return false;
  if (filters.trigger && run.trigger !== filters.trigger) return false;
  if (filters.has_warnings === "true" && !run.has_warnings) return false;
  return !filters.started_from && !filters.started_to;
}

export function RunsPage(): ReactNode {
  const [search, setSearch] = useSearchParams();
  const filters = useMemo(
    () => Object.fromEntries(FILTERS.map((f) => [f, search.get(f) ?? ""])) as Record<string, string>,
    [search],
  );
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [count, setCount] = useState(0);
  const [flows, setFlows] = useState<Flow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [socket, setSocket] = useState<SocketState>("connecting");
  const [refusal, setRefusal] = useState<string | null>(null);
  // Bumped when the feed reconnects: statuses sent while it was down are read from the API again.
  const [reloads, setReloads] = useState(0);
  const canWrite = useCanWrite();
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const toggle = (id: number, on: boolean): void =>
    setSelected((current) => {
      const copy = new Set(current);
      if (on) copy.add(id);
      else copy.delete(id);
      return copy;
    });
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const flowsRef = useRef(flows);
  flowsRef.current = flows;

  useEffect(() => {
    getAll<Flow>("/api/flows/")
      .then(setFlows)
      .catch(() => setFlows([]));
  }, []);

  useEffect(() => {
    setRuns(null);
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(filters)) {
      if (!value) continue;
      params[key] = key.startsWith("started_") ? new Date(value).toISOString() : value;
    }
    api
      .get<Page<RunSummary>>(`/api/runs/${query({ ...params, limit: 50 })}`)
      .then((body) => {
        setRuns(body.results);
        setNext(body.next);
        setCount(body.count);
        setError(null);
      })
      .catch((e: unknown) => {
        setError(errorMessage(e));
        setRuns([]);
      });
  }, [filters, reloads]);

  useEffect(() => {
    const live = new LiveSocket({
      path: () => "/ws/runs/",
      onState: setSocket,
      onRefused: setRefusal,
      onOpen: (_socket, reconnect) => {
        if (reconnect) setReloads((n) => n + 1);
      },
      onMessage: (message) => {
        if (message.type !== "run.status" || typeof message.run !== "number") return;
        const id = message.run;
        const { type: _type, run: _run, insights: _insights, ...fields } = message;
        setRuns((current) => {
          if (current === null) return current;
          const index = current.findIndex((r) => r.id === id);
          if (index >= 0) {
            const copy = current.slice();
            copy[index] = { ...(copy[index] as RunSummary), ...(fields as Partial<RunSummary>) };
            return copy;
          }
          const flowName = flowsRef.current.find((f) => f.id === fields.flow)?.name;
          const run = { id, ...(fields as Omit<RunSummary, "id">), flow_name: flowName } as RunSummary;
          if (!matches(run, filtersRef.current)) return current;
          setCount((c) => c + 1);
          return [run, ...current].sort((a, b) => b.id - a.id);
        });
      },
    });
    return () => live.close();
  }, []);

  const setFilter = (name: string, value: string): void => {
    const nextSearch = new URLSearchParams(search);
    if (value) nextSearch.set(name, value);
    else nextSearch.delete(name);
    setSearch(nextSearch);
  };

  const loadMore = async (): Promise<void> => {
    if (!next) return;
    try {
      const body = await api.get<Page<RunSummary>>(next);
      setRuns((current) => [
        ...(current ?? []),
        ...body.results.filter((r) => !(current ?? []).some((c) => c.id === r.id)),
      ]);
      setNext(body.next);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Runs</h1>
        <span className={`live-dot live-${socket}`} title={`Live updates: ${socket}`}>
          {socket === "open"
            ? "live"
            : socket === "connecting"
              ? "connecting…"
              : socket === "refused"
                ? "not live"
                : "reconnecting…"}
        </span>
      </div>
      <div className="filters" role="search">
        <select aria-label="Flow" value={filters.flow} onChange={(e) => setFilter("flow", e.target.value)}>
          <option value="">All flows</option>
          {flows.map((f) => (
            <option key={f.id} value={f.id}>
              {f.name}
            </option>
          ))}
        </select>
        <select
          aria-label="Status"
          value={filters.status}
          onChange={(e) => setFilter("status", e.target.value)}
        >
          <option value="">Any status</option>
          {RUN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.replace("_", " ")}
            </option>
          ))}
        </select>
        <select
          aria-label="Trigger"
          value={filters.trigger}
          onChange={(e) => setFilter("trigger", e.target.value)}
        >
          <option value="">Any trigger</option>
          {TRIGGERS.map((t) => (
            <option key={t} value={t}>
              {t.replace("_", " ")}
            </option>
          ))}
        </select>
        <label>
          From{" "}
          <input
            type="datetime-local"
            value={filters.started_from}
            onChange={(e) => setFilter("started_from", e.target.value)}
          />
        </label>
        <label>
          To{" "}
          <input
            type="datetime-local"
            value={filters.started_to}
            onChange={(e) => setFilter("started_to", e.target.value)}
          />
        </label>
        <label className="switch">
          <input
            type="checkbox"
            checked={filters.has_warnings === "true"}
            onChange={(e) => setFilter("has_warnings", e.target.checked ? "true" : "")}
          />
          With warnings
        </label>
        {Object.values(filters).some(Boolean) ? (
          <button type="button" className="link-button" onClick={() => setSearch(new URLSearchParams())}>
            Clear filters
          </button>
        ) : null}
      </div>
      {refusal ? <Notice kind="error">{refusal}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {canWrite ? (
        <BulkActions
          selected={[...selected]}
          filters={filters}
          onDone={() => {
            setSelected(new Set());
            setReloads((n) => n + 1);
          }}
        />
      ) : null}
      {runs === null ? (
        <Loading />
      ) : runs.length === 0 ? (
        <Empty title="No runs">
          {Object.values(filters).some(Boolean)
            ? "No run matches these filters."
            : "Deploy a flow and run it: its runs appear here live."}
        </Empty>
      ) : (
        <>
          <table className="table runs-table">
            <thead>
              <tr>
                {canWrite ? (
                  <th>
                    <input
                      type="checkbox"
                      aria-label="Select every run shown"
                      checked={runs.length > 0 && runs.every((r) => selected.has(r.id))}
                      onChange={(e) =>
                        setSelected(e.target.checked ? new Set(runs.map((r) => r.id)) : new Set())
                      }
                    />
                  </th>
                ) : null}
                <th>Run</th>
                <th>Flow</th>
                <th>Status</th>
                <th>Trigger</th>
                <th>Attempt</th>
                <th>Started</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.id} data-run-id={run.id}>
                  {canWrite ? (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select run ${run.id}`}
                        checked={selected.has(run.id)}
                        onChange={(e) => toggle(run.id, e.target.checked)}
                      />
                    </td>
                  ) : null}
                  <td>
                    <Link to={`/runs/${run.id}`} className="strong">
                      #{run.id}
                    </Link>
                    {run.is_test ? <span className="test-badge">test run</span> : null}
                  </td>
                  <td>{run.flow_name ?? flows.find((f) => f.id === run.flow)?.name ?? `#${run.flow}`}</td>
                  <td>
                    <StatusPill status={displayStatus(run)} />
                    {run.has_warnings ? (
                      <span className="warn-flag" title="Has warnings">
                        ⚠
                      </span>
                    ) : null}
                  </td>
                  <td>{run.trigger}</td>
                  <td>{run.attempt}</td>
                  <td>
                    {run.started_at ? (
                      formatTime(run.started_at)
                    ) : (
                      <span className="hint">
                        {TERMINAL_STATUSES.has(run.status) ? "never started" : "not started"} · queued{" "}
                        {formatTime(run.queued_at)}
                      </span>
                    )}
                  </td>
                  <td>{formatDuration(run.started_at, run.finished_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="table-foot">
            <span className="hint">
              {runs.length} of {count}
            </span>
            {next ? (
              <button type="button" onClick={() => void loadMore()}>
                Load more
              </button>
            ) : null}
          </div>
        </>
      )}
    </div>
  );
}
