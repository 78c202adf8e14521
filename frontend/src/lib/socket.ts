/**
 * A websocket that reconnects with backoff. `onOpen` runs on every (re)connect so the caller can send
 * `{"type": "resume", "after": SEQ}`; messages are parsed JSON objects. When the server refuses the
 * connection for good (close codes 4401, 4403, 4404, 4429) it stops reconnecting and reports why.
 */
import { CLOSE_CODES } from "../api/server-lists";

export type SocketState = "connecting" | "open" | "closed" | "refused";

/** Close codes the server uses to refuse a socket (generated from its consumers); reconnecting would be
 * refused again. */
export const REFUSAL_MESSAGES: Readonly<Record<number, string>> = {
  [CLOSE_CODES.unauthenticated]:
    "Live updates stopped: you are not logged in. Log in again and reload the page.",
  [CLOSE_CODES.forbidden]: "Live updates stopped: you have no permission to watch this.",
  [CLOSE_CODES.unknownRun]: "Live updates stopped: the run was not found.",
  [CLOSE_CODES.throttled]:
    "Live updates stopped: too many wrong tokens from this address. Try again in a few minutes.",
};

export interface LiveSocketOptions {
  /** Read on every (re)connect, so it can carry `?after=SEQ`. */
  path: () => string;
  onMessage: (message: Record<string, unknown>) => void;
  onOpen?: (socket: LiveSocket, reconnect: boolean) => void;
  onState?: (state: SocketState) => void;
  /** Called once when the server refuses the socket for good; no reconnect follows. */
  onRefused?: (message: string, code: number) => void;
}

export class LiveSocket {
  private socket: WebSocket | null = null;
  private stopped = false;
  private attempts = 0;
  private opened = false;
  /** Why the server refused the socket (then it no longer reconnects), or null. */
  refusal: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly options: LiveSocketOptions;

  constructor(options: LiveSocketOptions) {
    this.options = options;
    this.connect();
  }

  send(message: unknown): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket?.close();
    this.socket = null;
  }

  private connect(): void {
    if (this.stopped) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${this.options.path()}`);
    this.socket = socket;
    this.options.onState?.("connecting");
    socket.onopen = () => {
      const reconnect = this.opened;
      this.opened = true;
      this.attempts = 0;
      this.options.onState?.("open");
      this.options.onOpen?.(this, reconnect);
    };
    socket.onmessage = (event: MessageEvent<string>) => {
      try {
        const parsed: unknown = JSON.parse(event.data);
        if (typeof parsed === "object" && parsed !== null)
          this.options.onMessage(parsed as Record<string, unknown>);
      } catch {
        // A frame that is not JSON is not ours; ignore it.
      }
    };
    socket.onclose = (event?: CloseEvent) => {
      if (this.socket !== socket) return;
      const refusal = event ? REFUSAL_MESSAGES[event.code] : undefined;
      if (refusal !== undefined && !this.stopped) {
        this.stopped = true;
        this.refusal = refusal;
        this.options.onState?.("refused");
        this.options.onRefused?.(refusal, event?.code ?? 0);
        return;
      }
      this.options.onState?.("closed");
      if (this.stopped) return;
      this.attempts += 1;
      const delay = Math.min(10_000, 500 * 2 ** Math.min(this.attempts - 1, 5));
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
}

/** Add log lines in sequence order, each sequence number once (snapshot + live + resume overlap). */
export function mergeBySeq<T extends { seq: number }>(existing: T[], incoming: T[]): T[] {
  if (incoming.length === 0) return existing;
  const last = existing.length > 0 ? (existing[existing.length - 1] as T).seq : -Infinity;
  const fresh = incoming.filter((line) => line.seq > last);
  if (
    fresh.length === incoming.length &&
    fresh.every((line, i) => i === 0 || (fresh[i - 1] as T).seq < line.seq)
  ) {
    return fresh.length === 0 ? existing : [...existing, ...fresh];
  }
  // Out of order or overlapping: merge by sequence number.
  const bySeq = new Map<number, T>();
  for (const line of existing) bySeq.set(line.seq, line);
  let added = false;
  for (const line of incoming) {
    if (!bySeq.has(line.seq)) {
      bySeq.set(line.seq, line);
      added = true;
    }
  }
  if (!added) return existing;
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}
