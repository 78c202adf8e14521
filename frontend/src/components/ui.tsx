/** Small shared UI pieces: status pills, notices, empty states, time formatting. */
import type { ReactNode } from "react";

export function StatusPill({ status }: { status: string | null | undefined }): ReactNode {
  if (!status) return <span className="pill pill-none">never run</span>;
  return (
    <span className={`pill pill-${status}`} data-status={status}>
      {status.replace("_", " ")}
    </span>
  );
}

export function Notice(props: {
  kind: "error" | "info" | "success";
  children: ReactNode;
  onClose?: () => void;
}): ReactNode {
  return (
    <div className={`notice notice-${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      <div>{props.children}</div>
      {props.onClose ? (
        <button type="button" className="icon-button" aria-label="Dismiss" onClick={props.onClose}>
          ×
        </button>
      ) : null}
    </div>
  );
}

export function Empty(props: { title: string; children?: ReactNode }): ReactNode {
  return (
    <div className="empty">
      <div className="empty-title">{props.title}</div>
      {props.children ? <div className="empty-body">{props.children}</div> : null}
    </div>
  );
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function formatDuration(start: string | null | undefined, end: string | null | undefined): string {
  if (!start) return "—";
  const ms = (end ? new Date(end).getTime() : Date.now()) - new Date(start).getTime();
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function Loading(): ReactNode {
  return <div className="loading">Loading…</div>;
}

/** Show text that may be JSON, pretty-printed when it parses. */
export function PayloadView({ text, label }: { text: string | null | undefined; label?: string }): ReactNode {
  if (text === null || text === undefined) return <div className="hint">No payload.</div>;
  if (text === "") return <div className="hint">Empty payload (0 bytes).</div>;
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON: show as is.
  }
  return (
    <pre className="payload" aria-label={label}>
      {shown}
    </pre>
  );
}
