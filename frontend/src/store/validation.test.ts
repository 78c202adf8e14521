import { beforeEach, describe, expect, it } from "vitest";
import { parseGraph } from "../lib/serialize";
import type { GraphError } from "../shapes/types";
import { useDesigner } from "./designer";

const store = useDesigner.getState;

const messagesOf = (shape: string): string[] =>
  store()
    .errors.filter((e) => e.shape === shape)
    .map((e) => e.message);
const nodeErrors = (shape: string): GraphError[] =>
  store().nodes.find((n) => n.id === shape)?.data.errors ?? [];

describe("validation on edit", () => {
  beforeEach(() => {
    store().load(
      1,
      parseGraph({
        shapes: [
          {
            id: "trigger",
            type: "trigger",
            name: "Start",
            position: { x: 0, y: 0 },
            settings: { kind: "manual" },
          },
          {
            id: "say",
            type: "manual_payload",
            name: "Say",
            position: { x: 240, y: 0 },
            settings: { payload: "hi" },
          },
          {
            id: "more",
            type: "manual_payload",
            name: "More",
            position: { x: 480, y: 0 },
            settings: { payload: "x" },
          },
        ],
        connections: [
          { source: "trigger", target: "say" },
          { source: "say", target: "more" },
        ],
      }),
    );
    // The server checked the loaded draft: one problem only it can see (a reference, say).
    store().setErrors([{ shape: "more", setting: null, message: "Server-only problem." }]);
  });

  it("shows the shape registry's verdict at once, before any save", () => {
    const say = store().nodes.find((n) => n.id === "say")!.data.shape;
    store().updateShape("say", { settings: { ...say.settings, payload: "" } as typeof say.settings });
    expect(messagesOf("say")).toEqual(["Write the payload."]);
    expect(nodeErrors("say").map((e) => e.setting)).toEqual(["payload"]);
    // The server's problem on a shape not edited stays.
    expect(messagesOf("more")).toEqual(["Server-only problem."]);

    // Fixing it clears the message at once too.
    store().updateShape("say", { settings: { ...say.settings, payload: "back" } as typeof say.settings });
    expect(messagesOf("say")).toEqual([]);
    expect(nodeErrors("say")).toEqual([]);
  });

  it("merges the server's answer for the graph it checked", () => {
    const say = store().nodes.find((n) => n.id === "say")!.data.shape;
    store().updateShape("say", { settings: { ...say.settings, payload: "" } as typeof say.settings });
    const sent = store().graph();
    store().setErrors(
      [
        { shape: "say", setting: "payload", message: "Write the payload." },
        { shape: "say", setting: null, message: "Also a server problem." },
      ],
      sent,
    );
    expect(messagesOf("say")).toEqual(["Write the payload.", "Also a server problem."]);
    // The server no longer reports "more": its problem is gone.
    expect(messagesOf("more")).toEqual([]);

    // Undo brings the earlier payload back: the client rules speak for the changed shape at once.
    store().undo();
    expect(messagesOf("say")).toEqual([]);
  });

  it("drops the server's 'not reachable' on a shape as soon as an edit connects it", () => {
    // A new shape with no connection; the server said so when it checked.
    store().addShape("manual_payload", { x: 0, y: 200 });
    const lone = store().nodes.find((n) => !["trigger", "say", "more"].includes(n.id))!.id;
    store().setErrors(
      [
        { shape: "more", setting: null, message: "Server-only problem." },
        { shape: lone, setting: null, message: `Shape '${lone}' is not reachable from the trigger.` },
      ],
      store().graph(),
    );
    expect(messagesOf(lone)).toContain(`Shape '${lone}' is not reachable from the trigger.`);

    // Connected from the trigger: the shape itself is untouched, but the problem is gone at once.
    expect(store().connect("trigger", lone)).toBe(true);
    expect(messagesOf(lone).filter((m) => m.includes("not reachable"))).toEqual([]);
    // Another shape's server problem, unrelated to the edit, stays until the server answers.
    expect(messagesOf("more")).toEqual(["Server-only problem."]);
  });

  it("keeps the server's problem about a setting an edit of the same shape did not change", () => {
    const more = store().nodes.find((n) => n.id === "more")!.data.shape;
    store().setErrors(
      [{ shape: "more", setting: "payload", message: "Server-only: payload refers to nothing." }],
      store().graph(),
    );
    // Editing another setting of the same shape (its meta): the server's problem about the payload stays.
    store().updateShape("more", {
      settings: { ...more.settings, meta: { source: "test" } } as typeof more.settings,
    });
    expect(messagesOf("more")).toEqual(["Server-only: payload refers to nothing."]);
    // An edit of that very setting drops it until the server has looked again.
    store().updateShape("more", { settings: { ...more.settings, payload: "other" } as typeof more.settings });
    expect(messagesOf("more")).toEqual([]);
  });
});
