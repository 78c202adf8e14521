/**
 * Watch one run live: the REST detail first, then `/ws/runs/{id}/` (snapshot, run.log, run.step,
 * run.status). Reconnects resume after the last sequence number seen, so no line is lost or doubled.
 */
import { useEffect, useRef, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { LogLine, RunDetail, Step } from "../api/types";
import { upsertStep } from "../lib/overlay";
import { LiveSocket, mergeBySeq } from "../lib/socket";
import type { SocketState } from "../lib/socket";

export interface RunWatch {
  run: RunDetail | null;
  steps: Step[];
  logs: LogLine[];
  truncated: boolean;
  socket: SocketState;
  /** Why the server refused the live socket (not logged in, no permission, run not found), or null. */
  refusal: string | null;
  error: string | null;
  reload: () => void;
}

function asLog(message: Record<string, unknown>): LogLine {
  return {
    seq: Number(message.seq),
    ts: String(message.ts ?? ""),
    level: (message.level as LogLine["level"]) ?? "info",
    step: (message.step as number | null) ?? null,
    message: String(message.message ?? ""),
    data: message.data,
  };
}

export function useRun(runId: number | null): RunWatch {
  const [run, setRun] = useState<RunDetail | null>(null);
  const [steps, setSteps] = useState<Step[]>([]);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [truncated, setTruncated] = useState(false);
  const [socketState, setSocketState] = useState<SocketState>("connecting");
  const [refusal, setRefusal] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);
  const lastSeq = useRef(0);

  useEffect(() => {
    if (runId === null) return;
    let live = true;
    lastSeq.current = 0;
    setRefusal(null);
    setRun(null);
    setSteps([]);
    setLogs([]);
    setError(null);
    const addLogs = (incoming: LogLine[]): void => {
      if (incoming.length === 0) return;
      setLogs((existing) => {
        const merged = mergeBySeq(existing, incoming);
        const last = merged[merged.length - 1];
        if (last) lastSeq.current = Math.max(lastSeq.current, last.seq);
        return merged;
      });
    };
    api
      .get<RunDetail>(`/api/runs/${runId}/`)
      .then((detail) => {
        if (!live) return;
        // A snapshot may have arrived first: keep its live fields, take the payloads from the detail.
        setRun((current) => (current ? { ...detail, ...current } : detail));
        setSteps((current) => (current.length > 0 ? current : (detail.steps ?? [])));
      })
      .catch((e: unknown) => {
        if (live) setError(errorMessage(e));
      });
    const socket = new LiveSocket({
      path: () => `/ws/runs/${runId}/${lastSeq.current > 0 ? `?after=${lastSeq.current}` : ""}`,
      onState: (state) => {
        if (live) setSocketState(state);
      },
      onRefused: (message) => {
        if (live) setRefusal(message);
      },
      onOpen: (s, reconnect) => {
        if (reconnect) s.send({ type: "resume", after: lastSeq.current });
      },
      onMessage: (message) => {
        if (!live) return;
        switch (message.type) {
          case "run.snapshot": {
            const snapRun = message.run as RunDetail | undefined;
            if (snapRun) setRun((current) => ({ ...(current ?? {}), ...snapRun }));
            const snapSteps = (message.steps as Step[] | undefined) ?? [];
            setSteps((current) =>
              snapSteps.reduce(
                (list, step) => upsertStep(list, { ...(list.find((s) => s.id === step.id) ?? {}), ...step }),
                current,
              ),
            );
            addLogs(((message.logs as Record<string, unknown>[] | undefined) ?? []).map(asLog));
            if (message.logs_truncated === true) setTruncated(true);
            break;
          }
          case "run.log":
            addLogs([asLog(message)]);
            break;
          case "run.step": {
            const step = message.step as Step | undefined;
            if (step)
              setSteps((current) =>
                upsertStep(current, { ...(current.find((s) => s.id === step.id) ?? {}), ...step }),
              );
            break;
          }
          case "run.status": {
            const { type: _type, run: _run, ...fields } = message;
            setRun((current) => (current ? { ...current, ...(fields as Partial<RunDetail>) } : current));
            if (
              typeof message.status === "string" &&
              ["succeeded", "failed", "stopped", "partial_success"].includes(message.status)
            ) {
              // The finished run's detail has the attempts and insights the events do not carry.
              api
                .get<RunDetail>(`/api/runs/${runId}/`)
                .then((detail) => {
                  if (!live) return;
                  setRun(detail);
                  if (detail.steps) setSteps(detail.steps);
                })
                .catch(() => undefined);
            }
            break;
          }
          default:
            break;
        }
      },
    });
    return () => {
      live = false;
      socket.close();
    };
  }, [runId, reloads]);

  return {
    run,
    steps,
    logs,
    truncated,
    socket: socketState,
    refusal,
    error,
    reload: () => setReloads((n) => n + 1),
  };
}
