/**
 * Script editor: Python with highlighting, save, deploy (errors at their lines), versions, and a test panel
 * (sample data, a response block for response scripts, output / logs / error line / duration).
 */
import { useCallback, useEffect, useState } from "react";
import type { ReactNode } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api, ApiError, errorMessage, itemsOf } from "../api/client";
import type { Page } from "../api/client";
import type {
  Script,
  ScriptTestResult,
  ScriptVersionDetail,
  ScriptVersionInfo,
  StepAttempt,
} from "../api/types";
import { getScript, saveScriptDraft } from "../api/scripts";
import { CodeEditor } from "../components/code-editor";
import { ConflictDialog } from "../components/conflict-dialog";
import { formatTime, Loading, Notice, StatusPill } from "../components/ui";
import { loadScriptVersions } from "../shapes/script-picker";
import { useCanWrite } from "../session";

interface LineError {
  line: number | null;
  column?: number | null;
  message: string;
}

const SAMPLE_DATA = {
  payload: '{"order_id": 42, "status": "paid"}',
  variables: {},
  meta: {},
  flow: { id: 0, name: "Test", run_id: 0, variables: {} },
};

const SAMPLE_RESPONSE = {
  status: 200,
  headers: { "content-type": "application/json" },
  body: '{"ok": true}',
};

function stringify(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function responseOf(attempt: StepAttempt | undefined): unknown {
  const response = attempt?.response;
  if (typeof response !== "object" || response === null) return null;
  const r = response as Record<string, unknown>;
  return {
    status: r.status ?? attempt?.http_status ?? 200,
    headers: r.headers ?? {},
    body: typeof r.body === "string" ? r.body : JSON.stringify(r.body ?? ""),
  };
}

export function ScriptEditorPage(): ReactNode {
  const { scriptId } = useParams();
  const id = Number(scriptId);
  const [search] = useSearchParams();
  const canWrite = useCanWrite();
  const [script, setScript] = useState<Script | null>(null);
  const [code, setCode] = useState("");
  const [savedCode, setSavedCode] = useState("");
  const [description, setDescription] = useState("");
  const [versions, setVersions] = useState<ScriptVersionInfo[]>([]);
  const [viewing, setViewing] = useState<ScriptVersionDetail | null>(null);
  const [message, setMessage] = useState<{ kind: "error" | "info" | "success"; text: string } | null>(null);
  /** The current revision when a save met a newer draft saved elsewhere (autosave waits meanwhile). */
  const [conflict, setConflict] = useState<number | null>(null);
  const [lineErrors, setLineErrors] = useState<LineError[]>([]);
  const [sample, setSample] = useState(stringify(SAMPLE_DATA));
  const [responseBlock, setResponseBlock] = useState(stringify(SAMPLE_RESPONSE));
  const [testVersion, setTestVersion] = useState<number | null>(null);
  const [result, setResult] = useState<ScriptTestResult | null>(null);
  const [testing, setTesting] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);

  const loadVersions = useCallback(async () => {
    try {
      const body = await api.get<Page<ScriptVersionInfo> | ScriptVersionInfo[]>(
        `/api/scripts/${id}/versions/`,
      );
      setVersions(itemsOf(body));
      void loadScriptVersions(id, true);
    } catch {
      setVersions([]);
    }
  }, [id]);

  useEffect(() => {
    api
      .get<Script>(`/api/scripts/${id}/`)
      .then((body) => {
        setScript(body);
        setCode(body.code);
        setSavedCode(body.code);
        setDescription(body.description);
      })
      .catch((e: unknown) => setLoadError(errorMessage(e)));
    void loadVersions();
  }, [id, loadVersions]);

  // Opened from a run: prefill the response block with the connector step's last real response.
  useEffect(() => {
    const run = search.get("run");
    const step = search.get("step");
    if (!run || !step) return;
    api
      .get<Page<StepAttempt> | StepAttempt[]>(`/api/runs/${run}/steps/${step}/attempts/`)
      .then((body) => {
        const attempts = itemsOf(body);
        const last = [...attempts].reverse().find((a) => responseOf(a) !== null);
        const response = responseOf(last);
        if (response) {
          setResponseBlock(stringify(response));
          setMessage({
            kind: "info",
            text: `The response block holds the last response of run #${run}'s step.`,
          });
        }
      })
      .catch(() => undefined);
  }, [search]);

  const save = useCallback(
    async (basedOn?: number): Promise<boolean> => {
      if (!canWrite || !script || (conflict !== null && basedOn === undefined)) return false;
      try {
        const body = await saveScriptDraft(id, { code, description }, basedOn ?? script.revision);
        setScript(body);
        setSavedCode(code);
        setConflict(null);
        return true;
      } catch (e) {
        if (e instanceof ApiError && e.isStaleRevision && e.currentRevision !== null) {
          setConflict(e.currentRevision);
        } else {
          setMessage({ kind: "error", text: `Could not save: ${errorMessage(e)}` });
        }
        return false;
      }
    },
    [canWrite, code, conflict, description, id, script],
  );

  /** Conflict: drop the unsaved code and load the draft saved elsewhere. */
  const reload = async (): Promise<void> => {
    try {
      const body = await getScript(id);
      setScript(body);
      setCode(body.code);
      setSavedCode(body.code);
      setDescription(body.description);
      setConflict(null);
    } catch (e) {
      setMessage({ kind: "error", text: `Could not reload: ${errorMessage(e)}` });
    }
  };

  const deploy = async (): Promise<void> => {
    if (!(await save())) return;
    try {
      const body = await api.post<{ version: number }>(`/api/scripts/${id}/deploy/`, {});
      setLineErrors([]);
      setMessage({ kind: "success", text: `Deployed version ${body.version}.` });
      await loadVersions();
      setScript(await api.get<Script>(`/api/scripts/${id}/`));
    } catch (e) {
      if (e instanceof ApiError) {
        const errors = e.errors.map((item) => ({
          line: typeof item.line === "number" ? item.line : null,
          column: typeof item.column === "number" ? item.column : null,
          message: item.message,
        }));
        setLineErrors(errors);
        setMessage({ kind: "error", text: `Deploy refused: ${e.message}` });
      } else {
        setMessage({ kind: "error", text: errorMessage(e) });
      }
    }
  };

  const test = async (): Promise<void> => {
    let data: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(sample);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      data = parsed as Record<string, unknown>;
      if (script?.kind === "response") data = { ...data, response: JSON.parse(responseBlock) as unknown };
    } catch {
      setMessage({ kind: "error", text: "The sample data (and response block) must be JSON objects." });
      return;
    }
    if (testVersion === null && code !== savedCode && canWrite) {
      if (!(await save())) return;
    }
    setTesting(true);
    try {
      const body = await api.post<ScriptTestResult>(`/api/scripts/${id}/test/`, {
        data,
        version: testVersion,
      });
      setResult(body);
      setLineErrors(body.error?.line ? [{ line: body.error.line, message: body.error.message }] : []);
    } catch (e) {
      setMessage({ kind: "error", text: `The test could not run: ${errorMessage(e)}` });
    } finally {
      setTesting(false);
    }
  };

  if (loadError) {
    return (
      <div className="page">
        <Notice kind="error">{loadError}</Notice>
        <Link to="/scripts">Back to the scripts</Link>
      </div>
    );
  }
  if (!script) return <Loading />;

  const shownCode = viewing ? (viewing.code ?? "") : code;
  const errorLines = viewing ? [] : lineErrors.map((e) => e.line).filter((n): n is number => n !== null);
  return (
    <div className="page script-editor">
      {conflict !== null ? (
        <ConflictDialog
          what="This script's draft"
          revision={conflict}
          onReload={() => void reload()}
          onOverwrite={() => void save(conflict)}
        />
      ) : null}
      <div className="page-head">
        <div>
          <Link to="/scripts" className="hint">
            ← Scripts
          </Link>
          <h1>
            {script.name}{" "}
            <span className="hint">{script.kind === "response" ? "response script" : "script"}</span>
          </h1>
        </div>
        <div className="toolbar-buttons">
          <span className="hint" data-testid="script-save-state">
            {code === savedCode ? "Saved" : "Unsaved changes"}
          </span>
          {canWrite ? (
            <>
              <button
                type="button"
                onClick={() =>
                  void save().then((ok) => ok && setMessage({ kind: "success", text: "Draft saved." }))
                }
                title="Ctrl+S"
              >
                Save draft
              </button>
              <button type="button" className="primary" onClick={() => void deploy()}>
                Deploy
              </button>
            </>
          ) : null}
        </div>
      </div>
      {message ? (
        <Notice kind={message.kind} onClose={() => setMessage(null)}>
          {message.text}
        </Notice>
      ) : null}
      <div className="editor-layout">
        <section className="editor-main">
          <div className="field">
            <label htmlFor="script-description">Description</label>
            <input
              id="script-description"
              value={description}
              readOnly={!canWrite}
              onChange={(e) => setDescription(e.target.value)}
            />
          </div>
          {viewing ? (
            <Notice kind="info" onClose={() => setViewing(null)}>
              Viewing version {viewing.number} (read only). Close to return to the draft.
            </Notice>
          ) : null}
          <CodeEditor
            label="Script code"
            value={shownCode}
            readOnly={!canWrite || viewing !== null}
            errorLines={errorLines}
            onChange={viewing ? undefined : setCode}
            onSave={() => void save()}
            minHeight="420px"
          />
          {lineErrors.length > 0 ? (
            <ul className="line-errors" data-testid="line-errors">
              {lineErrors.map((e, i) => (
                <li key={i}>
                  {e.line !== null ? (
                    <strong>
                      Line {e.line}
                      {e.column ? `:${e.column}` : ""}
                    </strong>
                  ) : null}{" "}
                  {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </section>
        <aside className="editor-side">
          <section className="card">
            <h2>Test</h2>
            <div className="field">
              <label htmlFor="test-version">Run</label>
              <select
                id="test-version"
                value={testVersion ?? ""}
                onChange={(e) => setTestVersion(e.target.value === "" ? null : Number(e.target.value))}
              >
                <option value="">The draft</option>
                {versions
                  .filter((v) => v.number !== null && v.status !== "draft")
                  .map((v) => (
                    <option key={v.number} value={v.number ?? ""}>
                      v{v.number} ({v.status})
                    </option>
                  ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="test-data">Sample data</label>
              <textarea
                id="test-data"
                className="mono"
                rows={8}
                value={sample}
                onChange={(e) => setSample(e.target.value)}
              />
            </div>
            {script.kind === "response" ? (
              <div className="field">
                <label htmlFor="test-response">Response block</label>
                <textarea
                  id="test-response"
                  className="mono"
                  rows={6}
                  value={responseBlock}
                  onChange={(e) => setResponseBlock(e.target.value)}
                />
              </div>
            ) : null}
            <button type="button" className="primary" onClick={() => void test()} disabled={testing}>
              {testing ? "Running…" : "Run test"}
            </button>
            {result ? (
              <div className="test-result" data-testid="test-result">
                <div className={result.ok ? "ok" : "failed"}>
                  {result.ok ? "OK" : "Failed"} · {Math.round(result.duration_ms * 10) / 10} ms
                </div>
                {result.error ? (
                  <div className="field-error" data-testid="test-error">
                    {result.error.type ? `${result.error.type}: ` : ""}
                    {result.error.message}
                    {result.error.line ? ` (line ${result.error.line})` : ""}
                  </div>
                ) : null}
                {result.logs.length > 0 ? (
                  <>
                    <h3>Logs</h3>
                    <pre className="payload">{result.logs.join("\n")}</pre>
                  </>
                ) : null}
                <h3>Result</h3>
                <pre className="payload">{stringify(result.result)}</pre>
              </div>
            ) : null}
          </section>
          <section className="card">
            <h2>Versions</h2>
            {versions.length === 0 ? <div className="hint">Not deployed yet.</div> : null}
            <ul className="versions">
              {versions.map((v) => (
                <li key={v.number ?? "draft"}>
                  <div>
                    <strong>{v.number === null ? "Draft" : `v${v.number}`}</strong>{" "}
                    <StatusPill status={v.status} />
                    <div className="hint">{v.deployed_at ? formatTime(v.deployed_at) : ""}</div>
                  </div>
                  {v.number !== null ? (
                    <button
                      type="button"
                      className="small"
                      onClick={() =>
                        void api
                          .get<ScriptVersionDetail>(`/api/scripts/${id}/versions/${v.number}/`)
                          .then(setViewing)
                          .catch((e: unknown) => setMessage({ kind: "error", text: errorMessage(e) }))
                      }
                    >
                      View
                    </button>
                  ) : null}
                </li>
              ))}
            </ul>
          </section>
        </aside>
      </div>
    </div>
  );
}
