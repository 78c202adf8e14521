/**
 * Flows list: create, import (a JSON export), rename, enable / disable, priority, last run status, export,
 * duplicate, delete (refused while other flows call it), open in the designer.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { ChangeEvent, FormEvent, ReactNode } from "react";
import { Link, useNavigate } from "react-router";
import { api, ApiError, errorMessage, getAll } from "../api/client";
import type { Flow, RunStatus, RunSummary } from "../api/types";
import { ItemActions, RefusalNotice } from "../components/item-actions";
import type { Refusal } from "../components/item-actions";
import { Empty, formatTime, Loading, Notice, StatusPill } from "../components/ui";
import { downloadJson, exportFileName } from "../lib/flow-files";
import { LiveSocket } from "../lib/socket";
import type { SocketState } from "../lib/socket";
import { useCanWrite } from "../session";

const PRIORITIES = [
  { value: 1, label: "1 · highest" },
  { value: 2, label: "2 · high" },
  { value: 3, label: "3 · regular" },
  { value: 4, label: "4 · low" },
  { value: 5, label: "5 · lowest" },
];

function FlowRow({
  flow,
  onChanged,
  onError,
  onDuplicated,
  onDeleted,
  onRefused,
}: {
  flow: Flow;
  onChanged: (flow: Flow) => void;
  onError: (message: string) => void;
  onDuplicated: (flow: Flow) => void;
  onDeleted: () => void;
  onRefused: (refusal: Refusal) => void;
}): ReactNode {
  const canWrite = useCanWrite();
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(flow.name);
  const save = async (patch: Partial<Flow>): Promise<void> => {
    try {
      onChanged(await api.patch<Flow>(`/api/flows/${flow.id}/`, patch));
    } catch (error) {
      onError(errorMessage(error));
    }
  };
  const status = flow.last_run?.status ?? null;
  const exportFlow = async (): Promise<void> => {
    try {
      downloadJson(exportFileName(flow.name), await api.get<unknown>(`/api/flows/${flow.id}/export/`));
    } catch (error) {
      onError(errorMessage(error));
    }
  };
  return (
    <tr data-flow-id={flow.id}>
      <td>
        {renaming ? (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              setRenaming(false);
              if (name.trim() && name !== flow.name) void save({ name: name.trim() });
            }}
          >
            <input
              aria-label="Flow name"
              value={name}
              autoFocus
              onChange={(e) => setName(e.target.value)}
              onBlur={() => setRenaming(false)}
            />
          </form>
        ) : (
          <>
            <Link to={`/flows/${flow.id}`} className="strong">
              {flow.name}
            </Link>
            {canWrite ? (
              <button
                type="button"
                className="link-button small"
                onClick={() => setRenaming(true)}
                aria-label={`Rename ${flow.name}`}
              >
                Rename
              </button>
            ) : null}
            {flow.description ? <div className="hint">{flow.description}</div> : null}
          </>
        )}
      </td>
      <td>
        <label className="switch">
          <input
            type="checkbox"
            checked={flow.enabled}
            disabled={!canWrite}
            aria-label={`${flow.name} enabled`}
            onChange={(e) => void save({ enabled: e.target.checked })}
          />
          {flow.enabled ? "Enabled" : "Disabled"}
        </label>
      </td>
      <td>
        <select
          aria-label={`${flow.name} priority`}
          value={flow.priority}
          disabled={!canWrite}
          onChange={(e) => void save({ priority: Number(e.target.value) })}
        >
          {PRIORITIES.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </td>
      <td>
        {flow.deployed_version ? `v${flow.deployed_version}` : <span className="hint">not deployed</span>}
      </td>
      <td>
        {flow.last_run ? (
          <Link to={`/runs/${flow.last_run.id}`}>
            <StatusPill status={status} />
          </Link>
        ) : (
          <StatusPill status={null} />
        )}
        {flow.last_run?.started_at ? (
          <div className="hint">{formatTime(flow.last_run.started_at)}</div>
        ) : null}
      </td>
      <td className="actions">
        <span className="list-actions">
          <Link to={`/flows/${flow.id}`} className="button">
            Open
          </Link>
          <button
            type="button"
            className="small"
            aria-label={`Export ${flow.name}`}
            onClick={() => void exportFlow()}
          >
            Export
          </button>
          {canWrite ? (
            <ItemActions<Flow>
              collection="flows"
              id={flow.id}
              name={flow.name}
              onDuplicated={onDuplicated}
              onDeleted={onDeleted}
              onRefused={onRefused}
              onError={onError}
            />
          ) : null}
        </span>
      </td>
    </tr>
  );
}

export function FlowsPage(): ReactNode {
  const canWrite = useCanWrite();
  const navigate = useNavigate();
  const [flows, setFlows] = useState<Flow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [newName, setNewName] = useState("");
  const [filter, setFilter] = useState("");
  const [socket, setSocket] = useState<SocketState>("connecting");
  const [refusal, setRefusal] = useState<string | null>(null);
  const [deleteRefusal, setDeleteRefusal] = useState<Refusal | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const importInput = useRef<HTMLInputElement>(null);

  const load = useCallback(async () => {
    try {
      setFlows(await getAll<Flow>("/api/flows/"));
    } catch (e) {
      setError(errorMessage(e));
      setFlows([]);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // Last run status, live from the runs feed.
  useEffect(() => {
    const feed = new LiveSocket({
      path: () => "/ws/runs/",
      onState: setSocket,
      onRefused: setRefusal,
      onOpen: (_socket, reconnect) => {
        if (reconnect) void load();
      },
      onMessage: (message) => {
        if (message.type !== "run.status" || typeof message.run !== "number") return;
        const run = message.run;
        setFlows((list) =>
          list === null
            ? list
            : list.map((f) =>
                f.id === message.flow &&
                (f.last_run === null || f.last_run === undefined || f.last_run.id <= run)
                  ? {
                      ...f,
                      last_run: {
                        ...(f.last_run ?? {}),
                        id: run,
                        status: message.status as RunStatus,
                        started_at: (message.started_at as string | null) ?? null,
                        finished_at: (message.finished_at as string | null) ?? null,
                      } as RunSummary,
                    }
                  : f,
              ),
        );
      },
    });
    return () => feed.close();
  }, [load]);

  const create = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (!newName.trim()) return;
    try {
      const flow = await api.post<Flow>("/api/flows/", { name: newName.trim() });
      navigate(`/flows/${flow.id}`);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  // Importing a flow whose name exists imports it as "<name> (imported)", like a copy.
  const importFile = async (event: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    let document: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(await file.text());
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      document = parsed as Record<string, unknown>;
    } catch {
      setError(`${file.name} is not a JSON flow export.`);
      return;
    }
    const original = String((document.flow as Record<string, unknown> | undefined)?.name ?? "Imported flow");
    const taken = new Set((flows ?? []).map((f) => f.name));
    let name = original;
    for (let n = 1; taken.has(name); n++)
      name = n === 1 ? `${original} (imported)` : `${original} (imported ${n})`;
    try {
      const flow = await api.post<Flow & { errors?: unknown[] }>("/api/flows/import/", { ...document, name });
      const problems = flow.errors?.length ?? 0;
      setInfo(
        `Imported “${flow.name}”` +
          (name !== original ? ` (a flow named “${original}” exists)` : "") +
          (problems > 0 ? `; its draft has ${problems} problem(s) to fix.` : "."),
      );
      navigate(`/flows/${flow.id}`);
    } catch (e) {
      setError(e instanceof ApiError ? `Import refused: ${e.describe()}` : errorMessage(e));
    }
  };

  const shown = (flows ?? []).filter((f) => f.name.toLowerCase().includes(filter.toLowerCase()));
  return (
    <div className="page">
      <div className="page-head">
        <h1>
          Process flows{" "}
          <span
            className={`live-dot live-${socket}`}
            title={`Live run status: ${socket}`}
            data-testid="flows-live"
          >
            {socket === "open" ? "live" : socket === "refused" ? "not live" : "connecting…"}
          </span>
        </h1>
        {canWrite ? (
          <form className="inline-form" onSubmit={(e) => void create(e)}>
            <input
              ref={importInput}
              type="file"
              accept=".json,application/json"
              hidden
              data-testid="import-flow-file"
              onChange={(e) => void importFile(e)}
            />
            <button type="button" onClick={() => importInput.current?.click()}>
              Import…
            </button>
            <input
              aria-label="New flow name"
              placeholder="New flow name"
              value={newName}
              onChange={(e) => setNewName(e.target.value)}
            />
            <button type="submit" className="primary" disabled={!newName.trim()}>
              Create flow
            </button>
          </form>
        ) : null}
      </div>
      {refusal ? <Notice kind="error">{refusal}</Notice> : null}
      <RefusalNotice refusal={deleteRefusal} onClose={() => setDeleteRefusal(null)} />
      {info ? (
        <Notice kind="success" onClose={() => setInfo(null)}>
          {info}
        </Notice>
      ) : null}
      {error ? (
        <Notice kind="error" onClose={() => setError(null)}>
          {error}
        </Notice>
      ) : null}
      {flows === null ? (
        <Loading />
      ) : flows.length === 0 ? (
        <Empty title="No process flows yet">
          {canWrite
            ? "Name your first flow above and build it on the canvas."
            : "An editor has not created any flow yet."}
        </Empty>
      ) : (
        <>
          <input
            className="search"
            aria-label="Filter flows"
            placeholder="Filter by name…"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>State</th>
                <th>Priority</th>
                <th>Deployed</th>
                <th>Last run</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {shown.map((flow) => (
                <FlowRow
                  key={flow.id}
                  flow={flow}
                  onError={setError}
                  onRefused={setDeleteRefusal}
                  onDeleted={() => {
                    setDeleteRefusal(null);
                    setInfo(`Deleted “${flow.name}”.`);
                    setFlows((list) => (list ?? []).filter((f) => f.id !== flow.id));
                  }}
                  onDuplicated={(copy) => {
                    setInfo(`Created “${copy.name}” (not deployed).`);
                    setFlows((list) => [...(list ?? []), copy].sort((a, b) => a.name.localeCompare(b.name)));
                  }}
                  onChanged={(updated) =>
                    setFlows((list) =>
                      (list ?? []).map((f) => (f.id === updated.id ? { ...f, ...updated } : f)),
                    )
                  }
                />
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
