/**
 * Script editor: Python with highlighting, a draft that saves itself (and guards every way out while a
 * save is pending), deploy (errors at their lines; the flows a new version changes are listed first),
 * versions (view, compare with the draft, restore into the draft), and a test panel (sample data, a response
 * block for response scripts, output / logs / error line / duration, and what the response code will do).
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api, ApiError, errorMessage, itemsOf } from "../api/client";
import type { Page } from "../api/client";
import type {
  Flow,
  RunDetail,
  Script,
  ScriptTestResult,
  ScriptUsedBy,
  ScriptVersionDetail,
  ScriptVersionInfo,
  StepAttempt,
} from "../api/types";
import { getScript, saveScriptDraft } from "../api/scripts";
import { CodeEditor } from "../components/code-editor";
import { ConflictDialog } from "../components/conflict-dialog";
import { LeaveGuardDialog, useSaveBeforeLeaving } from "../components/leave-guard";
import { formatTime, Loading, Notice, StatusPill } from "../components/ui";
import { diffLines } from "../lib/line-diff";
import { describeResponseCode } from "../lib/response-codes";
import type { FlowRetries } from "../lib/response-codes";
import { loadScriptVersions } from "../shapes/script-picker";
import { useCanWrite } from "../session";

/** How long typing pauses before the draft saves itself. */
const AUTOSAVE_DELAY_MS = 700;

type SaveState = "saved" | "dirty" | "saving" | "error";

const SAVE_STATE_TEXT: Record<SaveState, string> = {
  saved: "Draft saved",
  dirty: "Unsaved changes",
  saving: "Saving…",
  error: "Not saved",
};

function VersionDiff(props: { before: string; after: string; label: string }): ReactNode {
  const lines = diffLines(props.before, props.after);
  const changed = lines.filter((line) => line.kind !== "same").length;
  return (
    <div className="script-diff" data-testid="script-diff">
      <div className="hint">
        {props.label}: {changed === 0 ? "no differences" : `${changed} changed line(s)`}
      </div>
      <pre className="diff-lines">
        {lines.map((line, index) => (
          <div key={index} className={`diff-${line.kind}`}>
            <span className="diff-mark">
              {line.kind === "added" ? "+" : line.kind === "removed" ? "-" : " "}
            </span>
            {line.text}
          </div>
        ))}
      </pre>
    </div>
  );
}

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
  /** The current revision when a save met a newer draft saved elsewhere (autosave waits meanwhile). */
  const [conflict, setConflict] = useState<number | null>(null);
  const [message, setMessage] = useState<{ kind: "error" | "info" | "success"; text: string } | null>(null);
  const [lineErrors, setLineErrors] = useState<LineError[]>([]);
  const [sample, setSample] = useState(stringify(SAMPLE_DATA));
  const [responseBlock, setResponseBlock] = useState(stringify(SAMPLE_RESPONSE));
  const [testVersion, setTestVersion] = useState<number | null>(null);
  const [result, setResult] = useState<ScriptTestResult | null>(null);
  const [testing, setTesting] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [savedDescription, setSavedDescription] = useState("");
  const [saveState, setSaveState] = useState<SaveState>("saved");
  const [comparing, setComparing] = useState<ScriptVersionDetail | null>(null);
  const [deployCheck, setDeployCheck] = useState<ScriptUsedBy | null>(null);
  const [flowRetries, setFlowRetries] = useState<FlowRetries[]>([]);
  // The save in flight, so a second save (or leaving the page) waits for it instead of racing it.
  const saving = useRef<Promise<boolean> | null>(null);
  // The revision the next save is based on (kept in a ref: the save on leaving runs after unmount).
  const revision = useRef<number | undefined>(undefined);

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
        revision.current = body.revision;
        setScript(body);
        setCode(body.code);
        setSavedCode(body.code);
        setDescription(body.description);
        setSavedDescription(body.description);
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

  const dirty = code !== savedCode || description !== savedDescription;

  /** Save the draft (based on `basedOn`, the revision to overwrite after a conflict, else the one loaded).
   * A stale revision opens the conflict dialog and stops autosaving until the user chooses. */
  const save = useCallback(
    async (basedOn?: number): Promise<boolean> => {
      if (!canWrite || !script || (conflict !== null && basedOn === undefined)) return false;
      if (saving.current) await saving.current;
      const sentCode = code;
      const sentDescription = description;
      if (basedOn === undefined && sentCode === savedCode && sentDescription === savedDescription)
        return true;
      setSaveState("saving");
      const attempt = (async () => {
        try {
          const body = await saveScriptDraft(
            id,
            { code: sentCode, description: sentDescription },
            basedOn ?? revision.current,
          );
          revision.current = body.revision;
          setScript(body);
          setSavedCode(sentCode);
          setSavedDescription(sentDescription);
          setConflict(null);
          setSaveState("saved");
          return true;
        } catch (e) {
          setSaveState("error");
          if (e instanceof ApiError && e.isStaleRevision && e.currentRevision !== null) {
            setConflict(e.currentRevision);
          } else {
            setMessage({ kind: "error", text: `Could not save: ${errorMessage(e)}` });
          }
          return false;
        }
      })();
      saving.current = attempt;
      try {
        return await attempt;
      } finally {
        saving.current = null;
      }
    },
    [canWrite, code, conflict, description, id, savedCode, savedDescription, script],
  );

  /** Conflict: drop the unsaved code and load the draft saved elsewhere. */
  const reload = async (): Promise<void> => {
    try {
      const body = await getScript(id);
      revision.current = body.revision;
      setScript(body);
      setCode(body.code);
      setSavedCode(body.code);
      setDescription(body.description);
      setSavedDescription(body.description);
      setConflict(null);
      setSaveState("saved");
    } catch (e) {
      setMessage({ kind: "error", text: `Could not reload: ${errorMessage(e)}` });
    }
  };

  // The draft saves itself shortly after typing stops, like the designer's canvas.
  useEffect(() => {
    if (!canWrite || !script || !dirty || conflict !== null) return;
    setSaveState((state) => (state === "saving" ? state : "dirty"));
    const timer = window.setTimeout(() => void save(), AUTOSAVE_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [canWrite, conflict, dirty, save, script]);

  // Leaving with a save pending: a reload or a closed tab asks the browser's question first.
  const pending = canWrite && (dirty || saveState === "saving");
  useEffect(() => {
    if (!pending) return;
    const warn = (event: BeforeUnloadEvent): void => {
      event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [pending]);
  // Leaving through an app link with an edit not saved yet waits for the save (components/leave-guard.tsx).
  const leaving = useSaveBeforeLeaving(pending, save);

  // The flows this script runs in, for what a response code will do there.
  useEffect(() => {
    const run = search.get("run");
    const load = async (): Promise<FlowRetries[]> => {
      if (run) {
        const detail = await api.get<RunDetail>(`/api/runs/${run}/`);
        const flow = await api.get<Flow>(`/api/flows/${detail.flow}/`);
        return [{ name: flow.name, max_run_retries: flow.max_run_retries }];
      }
      const used = await api.get<ScriptUsedBy>(`/api/scripts/${id}/used-by/`);
      const flows = await Promise.all(used.flows.map((f) => api.get<Flow>(`/api/flows/${f.id}/`)));
      return flows.map((flow) => ({ name: flow.name, max_run_retries: flow.max_run_retries }));
    };
    load()
      .then(setFlowRetries)
      .catch(() => setFlowRetries([]));
  }, [id, search]);

  const restore = async (number: number): Promise<void> => {
    if (!(await save())) return;
    try {
      const body = await api.post<Script>(`/api/scripts/${id}/versions/${number}/restore/`, {});
      revision.current = body.revision;
      setScript(body);
      setCode(body.code);
      setSavedCode(body.code);
      setViewing(null);
      setComparing(null);
      setLineErrors([]);
      setMessage({
        kind: "success",
        text: `Version ${number} is restored into the draft. Deploy it to make it current.`,
      });
    } catch (e) {
      setMessage({ kind: "error", text: `Could not restore: ${errorMessage(e)}` });
    }
  };

  const compare = async (number: number): Promise<void> => {
    try {
      setComparing(await api.get<ScriptVersionDetail>(`/api/scripts/${id}/versions/${number}/`));
      setViewing(null);
    } catch (e) {
      setMessage({ kind: "error", text: errorMessage(e) });
    }
  };

  // Deploying changes every flow that follows the latest version: list them before going ahead.
  const askDeploy = async (): Promise<void> => {
    try {
      const used = await api.get<ScriptUsedBy>(`/api/scripts/${id}/used-by/`);
      if (used.follows_latest.length > 0) {
        setDeployCheck(used);
        return;
      }
    } catch {
      // Not knowing who uses the script does not stop a deploy.
    }
    await deploy();
  };

  const deploy = async (): Promise<void> => {
    setDeployCheck(null);
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
          {canWrite ? (
            <span
              className={`save-state save-${saveState}`}
              data-testid="script-save-state"
              aria-live="polite"
            >
              {SAVE_STATE_TEXT[dirty && saveState === "saved" ? "dirty" : saveState]}
            </span>
          ) : null}
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
              <button type="button" className="primary" onClick={() => void askDeploy()}>
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
      <LeaveGuardDialog
        guard={leaving}
        what="script"
        canRetry={conflict === null}
        reason={
          conflict !== null
            ? "This draft was saved elsewhere meanwhile, so your edit was not saved."
            : message?.kind === "error"
              ? message.text
              : "The draft could not be saved."
        }
      />
      {conflict !== null && leaving.state === null ? (
        <ConflictDialog
          what="This script's draft"
          revision={conflict}
          onReload={() => void reload()}
          onOverwrite={() => void save(conflict)}
        />
      ) : null}
      {deployCheck ? (
        <div className="notice notice-info deploy-check" role="dialog" aria-label="Flows this deploy changes">
          <div>
            <strong>Deploying changes {deployCheck.follows_latest.length} flow(s)</strong> that use the latest
            deployed version of this script:
            <ul data-testid="deploy-follows-latest">
              {deployCheck.follows_latest.map((flow) => (
                <li key={flow.id}>
                  <Link to={`/flows/${flow.id}`}>{flow.name}</Link>{" "}
                  <span className="hint">({flow.versions.join(", ")})</span>
                </li>
              ))}
            </ul>
            <div className="toolbar-buttons">
              <button type="button" className="primary" onClick={() => void deploy()}>
                Deploy anyway
              </button>
              <button type="button" onClick={() => setDeployCheck(null)}>
                Cancel
              </button>
            </div>
          </div>
        </div>
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
              {canWrite && viewing.number !== null ? (
                <>
                  {" "}
                  <button type="button" className="small" onClick={() => void restore(viewing.number ?? 0)}>
                    Restore this version
                  </button>
                </>
              ) : null}
            </Notice>
          ) : null}
          {comparing && comparing.number !== null ? (
            <Notice kind="info" onClose={() => setComparing(null)}>
              <VersionDiff
                before={comparing.code ?? ""}
                after={code}
                label={`Version ${comparing.number} → the draft`}
              />
              {canWrite ? (
                <button type="button" className="small" onClick={() => void restore(comparing.number ?? 0)}>
                  Restore version {comparing.number}
                </button>
              ) : null}
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
          {script.kind === "response" ? (
            <details className="code-help" data-testid="response-code-help" open>
              <summary>Response codes in the flows using this script</summary>
              <ul>
                {[0, 1, 2, 3, 4].map((code) => (
                  <li key={code}>{describeResponseCode(code, flowRetries)}</li>
                ))}
              </ul>
            </details>
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
                {script.kind === "response" && result.ok ? (
                  <div className="code-summary" data-testid="response-code-summary">
                    {describeResponseCode(
                      (result.result as Record<string, unknown> | null)?.response_code,
                      flowRetries,
                    )}
                  </div>
                ) : null}
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
                    <div className="version-actions">
                      <button
                        type="button"
                        className="small"
                        onClick={() =>
                          void api
                            .get<ScriptVersionDetail>(`/api/scripts/${id}/versions/${v.number}/`)
                            .then((version) => {
                              setViewing(version);
                              setComparing(null);
                            })
                            .catch((e: unknown) => setMessage({ kind: "error", text: errorMessage(e) }))
                        }
                      >
                        View
                      </button>
                      <button
                        type="button"
                        className="small"
                        aria-label={`Compare v${v.number} with the draft`}
                        onClick={() => void compare(v.number ?? 0)}
                      >
                        Compare
                      </button>
                      {canWrite ? (
                        <button
                          type="button"
                          className="small"
                          aria-label={`Restore v${v.number}`}
                          onClick={() => void restore(v.number ?? 0)}
                        >
                          Restore
                        </button>
                      ) : null}
                    </div>
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
