import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveSocket } from "./socket";

/** A stand-in for the browser's WebSocket that the test opens, feeds and drops by hand. */
class FakeSocket {
  static OPEN = 1;
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event?: { code: number }) => void) | null = null;
  readonly url: string;

  constructor(url: string) {
    this.url = url;
    FakeSocket.instances.push(this);
  }
  send(text: string): void {
    this.sent.push(JSON.parse(text));
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  receive(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

describe("LiveSocket", () => {
  beforeEach(() => {
    FakeSocket.instances = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.stubGlobal("window", { location: { protocol: "http:", host: "patchbay.test" } });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("reconnects after a drop and resumes after the last sequence number it saw", () => {
    let lastSeq = 0;
    const received: number[] = [];
    const socket = new LiveSocket({
      path: () => `/ws/runs/5/${lastSeq > 0 ? `?after=${lastSeq}` : ""}`,
      onOpen: (s, reconnect) => {
        if (reconnect) s.send({ type: "resume", after: lastSeq });
      },
      onMessage: (message) => {
        received.push(Number(message.seq));
        lastSeq = Number(message.seq);
      },
    });
    const first = FakeSocket.instances[0] as FakeSocket;
    expect(first.url).toBe("ws://patchbay.test/ws/runs/5/");
    first.open();
    first.receive({ type: "run.log", seq: 1 });
    first.receive({ type: "run.log", seq: 2 });
    expect(first.sent).toEqual([]);

    first.drop();
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(500);
    const second = FakeSocket.instances[1] as FakeSocket;
    expect(second.url).toBe("ws://patchbay.test/ws/runs/5/?after=2");
    second.open();
    expect(second.sent).toEqual([{ type: "resume", after: 2 }]);
    second.receive({ type: "run.log", seq: 3 });
    expect(received).toEqual([1, 2, 3]);

    socket.close();
    second.drop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it("backs off further after each failed attempt", () => {
    new LiveSocket({ path: () => "/ws/runs/", onMessage: () => undefined });
    (FakeSocket.instances[0] as FakeSocket).drop();
    vi.advanceTimersByTime(499);
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    (FakeSocket.instances[1] as FakeSocket).drop();
    vi.advanceTimersByTime(999);
    expect(FakeSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.instances).toHaveLength(3);
  });
  it.each([
    [4401, "not logged in"],
    [4403, "no permission"],
    [4404, "run was not found"],
    [4429, "too many wrong tokens"],
  ])("stops reconnecting when the server closes with %i and says why", (code, words) => {
    const states: string[] = [];
    const refusals: [string, number][] = [];
    const socket = new LiveSocket({
      path: () => "/ws/runs/9/",
      onMessage: () => undefined,
      onState: (state) => states.push(state),
      onRefused: (message, closeCode) => refusals.push([message, closeCode]),
    });
    const first = FakeSocket.instances[0] as FakeSocket;
    first.drop(code);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(states).toEqual(["connecting", "refused"]);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]?.[1]).toBe(code);
    expect(refusals[0]?.[0]).toContain(words);
    expect(socket.refusal).toBe(refusals[0]?.[0]);
    socket.close();
  });

  it("still reconnects after an ordinary close", () => {
    const socket = new LiveSocket({ path: () => "/ws/runs/", onMessage: () => undefined });
    (FakeSocket.instances[0] as FakeSocket).drop(1011);
    vi.advanceTimersByTime(500);
    expect(FakeSocket.instances).toHaveLength(2);
    expect(socket.refusal).toBeNull();
    socket.close();
  });
});
