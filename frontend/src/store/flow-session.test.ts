import { beforeAll, describe, expect, it, vi } from "vitest";

// The session and API modules read the shell page when they load: a page with an editor signed in.
vi.stubGlobal("document", {
  getElementById: () => ({ dataset: { csrfToken: "t", username: "erin", roles: "editor" } }),
  cookie: "",
});
vi.stubGlobal("window", { location: { href: "/", pathname: "/" } });

const trigger = {
  id: "trigger",
  type: "trigger",
  name: "Start",
  position: { x: 0, y: 0 },
  settings: { kind: "manual" },
};

interface Call {
  method: string;
  url: string;
  body: Record<string, unknown> | null;
}

const calls: Call[] = [];
let answers: Record<string, Array<[number, unknown]>> = {};

function answer(method: string, url: string, status: number, body: unknown): void {
  (answers[`${method} ${url}`] ??= []).push([status, body]);
}

vi.stubGlobal("fetch", (url: string, init: { method: string; body: string | null }) => {
  calls.push({ method: init.method, url, body: init.body ? JSON.parse(init.body) : null });
  const queue = answers[`${init.method} ${url}`] ?? [];
  const [status, body] = (queue.length > 1 ? queue.shift() : queue[0]) ?? [404, { detail: "no route" }];
  return Promise.resolve({
    status,
    ok: status < 400,
    redirected: false,
    text: () => Promise.resolve(JSON.stringify(body)),
  });
});

type Modules = {
  session: typeof import("./flow-session");
  designer: typeof import("./designer");
  resources: typeof import("./resources");
};
let modules: Modules;

beforeAll(async () => {
  modules = {
    session: await import("./flow-session"),
    designer: await import("./designer"),
    resources: await import("./resources"),
  };
  // Reference data is not what these tests are about.
  modules.resources.useResources.setState({ load: () => Promise.resolve() } as never);
});

async function openFlow(revision: number): Promise<void> {
  answers = {};
  calls.length = 0;
  answer("GET", "/api/flows/1/", 200, { id: 1, name: "Orders" });
  answer("GET", "/api/flows/1/draft/", 200, { shapes: [trigger], connections: [], errors: [], revision });
  modules.session.useFlowSession.getState().open(1, { width: 800, height: 600 });
  await vi.waitFor(() => expect(modules.session.useFlowSession.getState().loaded).toBe(true));
  expect(modules.session.useFlowSession.getState().revision).toBe(revision);
}

const session = () => modules.session.useFlowSession.getState();
const puts = () => calls.filter((call) => call.method === "PUT");

describe("draft revisions", () => {
  it("sends the revision it is based on and offers reload or overwrite on a 409", async () => {
    await openFlow(3);
    modules.designer.useDesigner.getState().addShape("notify", { x: 300, y: 0 });
    answer("PUT", "/api/flows/1/draft/", 409, {
      detail: "The draft was changed by someone else.",
      errors: [{ field: "revision", message: "Stale revision 3; the current revision is 5." }],
      revision: 5,
    });
    answer("PUT", "/api/flows/1/draft/", 200, { shapes: [], connections: [], errors: [], revision: 6 });

    await session().save();

    expect(puts()[0]?.body?.revision).toBe(3);
    expect(session().conflict).toEqual({ revision: 5 });
    // Autosave waits for the decision.
    await session().save();
    expect(puts()).toHaveLength(1);

    await session().overwriteDraft();

    expect(puts()[1]?.body?.revision).toBe(5);
    expect(session().conflict).toBeNull();
    expect(session().revision).toBe(6);
    expect(session().saveState).toBe("saved");
  });

  it("reloads the draft saved elsewhere", async () => {
    await openFlow(3);
    modules.designer.useDesigner.getState().addShape("notify", { x: 300, y: 0 });
    answer("PUT", "/api/flows/1/draft/", 409, { detail: "Changed.", errors: [], revision: 4 });
    await session().save();
    expect(session().conflict).toEqual({ revision: 4 });
    const theirs = { ...trigger, name: "Their start" };
    answers["GET /api/flows/1/draft/"] = [
      [200, { shapes: [theirs], connections: [], errors: [], revision: 4 }],
    ];

    await session().reloadDraft();

    expect(session().conflict).toBeNull();
    expect(session().revision).toBe(4);
    const names = modules.designer.useDesigner
      .getState()
      .graph()
      .shapes.map((shape) => shape.name);
    expect(names).toEqual(["Their start"]);
  });
});
