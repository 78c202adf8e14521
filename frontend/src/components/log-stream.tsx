/** A live run log: follows new lines until the user scrolls up; level filter and search. */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";
import { Link } from "react-router";
import type { LogLine } from "../api/types";
import { splitRunMentions } from "../lib/run-links";

/** A log message with every "run N" it mentions as a link to that run. */
export function LogMessage({ text }: { text: string }): ReactNode {
  return splitRunMentions(text).map((part, index) =>
    typeof part === "string" ? (
      part
    ) : (
      <Link key={index} to={`/runs/${part.run}`}>
        {part.text}
      </Link>
    ),
  );
}

const LEVELS = ["debug", "info", "warning", "error"] as const;
const LEVEL_RANK: Record<string, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export function LogStream({
  lines,
  stepNames,
}: {
  lines: LogLine[];
  stepNames: Map<number, string>;
}): ReactNode {
  const box = useRef<HTMLDivElement | null>(null);
  const [follow, setFollow] = useState(true);
  const [level, setLevel] = useState<string>("debug");
  const [text, setText] = useState("");
  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return lines.filter(
      (line) =>
        (LEVEL_RANK[line.level] ?? 1) >= (LEVEL_RANK[level] ?? 0) &&
        (needle === "" ||
          line.message.toLowerCase().includes(needle) ||
          (stepNames.get(line.step ?? -1) ?? "").toLowerCase().includes(needle)),
    );
  }, [lines, level, text, stepNames]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [shown, follow]);

  useEffect(() => {
    setFollow(true);
  }, [level, text]);

  return (
    <div className="log-stream">
      <div className="log-tools">
        <select aria-label="Minimum level" value={level} onChange={(e) => setLevel(e.target.value)}>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l === "debug" ? "All levels" : `${l} and above`}
            </option>
          ))}
        </select>
        <input
          aria-label="Search the log"
          placeholder="Search the log…"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <span className="hint">
          {shown.length} / {lines.length} lines
        </span>
        {!follow ? (
          <button type="button" className="small" onClick={() => setFollow(true)}>
            Follow new lines ↓
          </button>
        ) : (
          <span className="hint">following</span>
        )}
      </div>
      <div
        className="log"
        ref={box}
        data-testid="run-log"
        tabIndex={0}
        aria-label="Run log"
        onScroll={(e) => {
          const el = e.currentTarget;
          const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
          if (atBottom !== follow) setFollow(atBottom);
        }}
      >
        {shown.length === 0 ? (
          <div className="hint">{lines.length === 0 ? "No log lines yet." : "No line matches."}</div>
        ) : null}
        {shown.map((line) => (
          <div key={line.seq} className={`log-line level-${line.level}`} data-seq={line.seq}>
            <span className="log-seq">{line.seq}</span>
            <span className="log-time">
              {line.ts ? new Date(line.ts).toLocaleTimeString([], { hour12: false }) : ""}
            </span>
            <span className="log-level">{line.level}</span>
            <span className="log-step">{line.step !== null ? (stepNames.get(line.step) ?? "") : ""}</span>
            <span className="log-message">
              <LogMessage text={line.message} />
            </span>
          </div>
        ))}
      </div>
    </div>
  );
}
