/** One run: header, retry / stop, step timeline, live log, payload and request / response viewers. */
import { useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, errorMessage, itemsOf } from "../api/client";
import type { Page } from "../api/client";
import type { PayloadInfo, RunDetail, Step, StepAttempt } from "../api/types";
import { TERMINAL_STATUSES } from "../api/types";
import { LogStream } from "../components/log-stream";
import { formatDuration, formatTime, Loading, Notice, PayloadView, StatusPill } from "../components/ui";
import { useRun } from "../hooks/use-run";
import { displayStatus } from "../lib/run-links";
import { parseGraph } from "../lib/serialize";
import { useCanWrite } from "../session";
import { RetryControls } from "./run-detail/retry-controls";

const INSIGHT_LABELS: Record<string, string> = {
  duration_ms: "Duration (ms)",
  steps: "Steps",
  http_calls: "HTTP calls",
  bytes_in: "Bytes in",
  bytes_out: "Bytes out",
  script_cpu_ms: "Script CPU (ms)",
};

function JsonBlock({ value }: { value: unknown }): ReactNode {
  return <pre className="payload">{typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>;
}

function TruncatedHint({ truncated }: { truncated: boolean | undefined }): ReactNode {
  return truncated ? (
    <div className="hint">Cut to the first 64 KiB; download the step payload for all of it.</div>
  ) : null;
}

function AttemptView({ attempt }: { attempt: StepAttempt }): ReactNode {
  const response = (attempt.response ?? null) as Record<string, unknown> | null;
  return (
    <details className="attempt" open>
      <summary>
        Attempt {attempt.number}: {attempt.outcome ?? ""}{" "}
        {attempt.http_status ? `· HTTP ${attempt.http_status}` : ""}
        {attempt.response_code !== null && attempt.response_code !== undefined
          ? ` · response code ${attempt.response_code}`
          : ""}
        {attempt.duration_ms !== undefined ? ` · ${Math.round(attempt.duration_ms)} ms` : ""}
      </summary>
      {attempt.message ? <div className="hint">Message: {attempt.message}</div> : null}
      <div className="two-col">
        <div>
          <h4>Request</h4>
          <JsonBlock value={attempt.request ?? {}} />
        </div>
        <div>
          <h4>Response</h4>
          {response ? (
            <>
              <JsonBlock value={{ status: response.status, headers: response.headers }} />
              <PayloadView
                text={
                  typeof response.body === "string" ? response.body : JSON.stringify(response.body ?? null)
                }
                label="Response body"
              />
            </>
          ) : (
            <div className="hint">No response (transport error).</div>
          )}
        </div>
      </div>
    </details>
  );
}

function StepDetail({ run, step }: { run: RunDetail; step: Step }): ReactNode {
  const [payloads, setPayloads] = useState<PayloadInfo[] | null>(null);
  const [attempts, setAttempts] = useState<StepAttempt[]>(step.connector_attempts ?? []);
  const [responseScript, setResponseScript] = useState<number | null>(null);
  useEffect(() => {
    setPayloads(null);
    api
      .get<Page<PayloadInfo> | PayloadInfo[]>(`/api/runs/${run.id}/steps/${step.id}/payloads/`)
      .then((body) => setPayloads(itemsOf(body)))
      .catch(() => setPayloads([]));
    if (step.shape_type === "connector") {
      api
        .get<Page<StepAttempt> | StepAttempt[]>(`/api/runs/${run.id}/steps/${step.id}/attempts/`)
        .then((body) => setAttempts(itemsOf(body)))
        .catch(() => undefined);
      const number = (run as { flow_version_number?: number | null }).flow_version_number;
      if (number) {
        api
          .get<{ graph: unknown }>(`/api/flows/${run.flow}/versions/${number}/`)
          .then((version) => {
            const shape = parseGraph(version.graph).shapes.find((s) => s.id === step.shape_id);
            setResponseScript(shape?.type === "connector" ? shape.settings.response_script : null);
          })
          .catch(() => setResponseScript(null));
      }
    }
  }, [run.id, run.flow, run, step.id, step.shape_type, step.shape_id]);
  return (
    <div className="step-detail card" data-testid="step-detail">
      <h3>
        {step.shape_name || step.shape_id} <span className="hint">{step.shape_type}</span>{" "}
        <StatusPill status={step.status} />
      </h3>
      {step.error ? <Notice kind="error">{step.error}</Notice> : null}
      {responseScript !== null ? (
        <Link className="button small" to={`/scripts/${responseScript}?run=${run.id}&step=${step.id}`}>
          Test the response script with this response
        </Link>
      ) : null}
      {attempts.length > 0 ? (
        <>
          <h4>Connection attempts</h4>
          {attempts.map((a) => (
            <AttemptView key={a.id ?? a.number} attempt={a} />
          ))}
        </>
      ) : null}
      <h4>Payloads</h4>
      {payloads === null ? (
        <Loading />
      ) : payloads.length === 0 ? (
        <div className="hint">No stored payloads (they are kept for a limited time).</div>
      ) : (
        payloads.map((p) => (
          <div key={p.id} className="payload-item">
            <div className="payload-head">
              <strong>
                {p.direction} #{p.index}
              </strong>
              <span className="hint">{p.size} bytes</span>
              {p.meta && Object.keys(p.meta).length > 0 ? (
                <span className="hint">meta {JSON.stringify(p.meta)}</span>
              ) : null}
              {p.download_url ? (
                <a href={p.download_url} className="small">
                  Download
                </a>
              ) : null}
            </div>
            {p.size === 0 ? (
              <div className="hint">Empty payload (0 bytes).</div>
            ) : p.body !== null && p.body !== undefined ? (
              <PayloadView text={p.body} />
            ) : (
              <div className="hint">Too large to show here: download it.</div>
            )}
          </div>
        ))
      )}
    </div>
  );
}

export function RunDetailPage(): ReactNode {
  const { runId } = useParams();
  const id = Number(runId);
  const navigate = useNavigate();
  const canWrite = useCanWrite();
  const { run, steps, logs, truncated, socket, refusal, error } = useRun(Number.isInteger(id) ? id : null);
  const [selected, setSelected] = useState<number | null>(null);
  const [message, setMessage] = useState<{ kind: "error" | "success" | "info"; text: string } | null>(null);
  const stepNames = useMemo(() => new Map(steps.map((s) => [s.id, s.shape_name || s.shape_id])), [steps]);

  const stop = async (): Promise<void> => {
    try {
      await api.post(`/api/runs/${id}/stop/`);
      setMessage({ kind: "info", text: "Stop requested: the run stops after the current step." });
    } catch (e) {
      setMessage({ kind: "error", text: `Stop refused: ${errorMessage(e)}` });
    }
  };

  if ((error || refusal) && !run) {
    return (
      <div className="page">
        <Notice kind="error">{error ?? refusal}</Notice>
        <Link to="/runs">Back to the runs</Link>
      </div>
    );
  }
  if (!run) return <Loading />;
  const finished = TERMINAL_STATUSES.has(run.status);
  const step = steps.find((s) => s.id === selected);
  const insights = (run.insights ?? {}) as Record<string, unknown>;
  const versionNumber = (run as { flow_version_number?: number | null }).flow_version_number;
  return (
    <div className="page run-detail">
      <div className="page-head">
        <div>
          <Link to="/runs" className="hint">
            ← Runs
          </Link>
          <h1>
            Run #{run.id} <StatusPill status={displayStatus(run, steps)} />
            {run.is_test ? <span className="test-badge">test run of the draft</span> : null}
          </h1>
          <div className="hint">
            <Link to={`/flows/${run.flow}`}>{run.flow_name ?? `Flow #${run.flow}`}</Link>
            {run.is_test ? " draft" : versionNumber ? ` v${versionNumber}` : ""} · {run.trigger} · attempt{" "}
            {run.attempt}
            {run.retry_of ? (
              <>
                {" "}
                · retry of <Link to={`/runs/${run.retry_of}`}>#{run.retry_of}</Link>
              </>
            ) : null}
            {run.retried_by ? (
              <>
                {" "}
                · retried as <Link to={`/runs/${run.retried_by}`}>#{run.retried_by}</Link>
              </>
            ) : null}{" "}
            ·{" "}
            {run.started_at
              ? `started ${formatTime(run.started_at)} · ${formatDuration(run.started_at, run.finished_at)}`
              : finished
                ? "never started"
                : "not started yet"}
            {" · "}
            <span className={`live-dot live-${socket}`}>{socket === "open" ? "live" : socket}</span>
          </div>
        </div>
        {canWrite ? (
          <div className="toolbar-buttons">
            {!finished ? (
              <button type="button" onClick={() => void stop()}>
                Stop
              </button>
            ) : null}
            {finished && run.status !== "succeeded" && !run.retried_by ? (
              <RetryControls
                runId={run.id}
                status={run.status}
                onRetried={(newRunId) => navigate(`/runs/${newRunId}`)}
                onRefused={(text) => setMessage({ kind: "error", text })}
              />
            ) : null}
          </div>
        ) : null}
      </div>
      {refusal ? <Notice kind="error">{refusal}</Notice> : null}
      {message ? (
        <Notice kind={message.kind} onClose={() => setMessage(null)}>
          {message.text}
        </Notice>
      ) : null}
      {run.error ? <Notice kind="error">{run.error}</Notice> : null}
      {Object.keys(insights).length > 0 ? (
        <div className="insights">
          {Object.entries(insights).map(([k, v]) => (
            <div key={k} className="insight">
              <div className="hint">{INSIGHT_LABELS[k] ?? k.replaceAll("_", " ")}</div>
              <strong>{typeof v === "number" ? Math.round(v * 10) / 10 : String(v)}</strong>
            </div>
          ))}
        </div>
      ) : null}
      <div className="run-layout">
        <section className="timeline" aria-label="Steps">
          <h2>Steps</h2>
          {steps.length === 0 ? <div className="hint">No steps yet.</div> : null}
          <ol>
            {steps.map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  className={`step-item${s.id === selected ? " active" : ""}`}
                  onClick={() => setSelected(s.id === selected ? null : s.id)}
                  aria-pressed={s.id === selected}
                >
                  <span className={`dot dot-${s.status}`} aria-hidden />
                  <span className="step-name">
                    {s.shape_name || s.shape_id}
                    {s.input_index > 0 ? <span className="hint"> #{s.input_index}</span> : null}
                  </span>
                  <span className="hint">
                    {s.status}
                    {s.http_status ? ` · ${s.http_status}` : ""}
                    {typeof s.attempts === "number" && s.attempts > 1
                      ? ` · ${s.attempts} attempts`
                      : ""} · {formatDuration(s.started_at, s.finished_at)}
                  </span>
                </button>
              </li>
            ))}
          </ol>
        </section>
        <section className="run-main">
          {step ? <StepDetail run={run} step={step} /> : null}
          <h2>Log</h2>
          {truncated ? (
            <div className="hint">
              Only the latest lines are shown live; older ones are in the history API.
            </div>
          ) : null}
          <LogStream lines={logs} stepNames={stepNames} />
          <h2>Payloads</h2>
          <div className="two-col run-payloads">
            <div>
              <h3>Input payload</h3>
              <PayloadView text={run.input_payload} label="Input payload" />
              <TruncatedHint truncated={run.input_payload_truncated} />
              {run.input_meta && Object.keys(run.input_meta).length > 0 ? (
                <>
                  <h4>Input meta</h4>
                  <JsonBlock value={run.input_meta} />
                  <TruncatedHint truncated={run.input_meta_truncated} />
                </>
              ) : null}
              {run.variables && Object.keys(run.variables).length > 0 ? (
                <>
                  <h4>Variables</h4>
                  <JsonBlock value={run.variables} />
                  <TruncatedHint truncated={run.variables_truncated} />
                </>
              ) : null}
            </div>
            <div>
              <h3>Final payload</h3>
              {run.final_payload === null && !TERMINAL_STATUSES.has(run.status) ? (
                <div className="hint">Not finished yet.</div>
              ) : (
                <PayloadView text={run.final_payload} label="Final payload" />
              )}
              <TruncatedHint truncated={run.final_payload_truncated} />
            </div>
          </div>
        </section>
      </div>
    </div>
  );
}
