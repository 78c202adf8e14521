import { beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./client";
import { saveConnector } from "./connectors";
import type { ConnectorInput } from "./connectors";
import { putDraft } from "./flows";
import { saveScriptDraft } from "./scripts";

vi.stubGlobal("document", { getElementById: () => ({ dataset: { csrfToken: "t" } }), cookie: "" });
vi.stubGlobal("window", { location: { href: "/", pathname: "/" } });

let sent: Array<{ url: string; body: Record<string, unknown> }> = [];
let reply: [number, unknown] = [200, {}];

vi.stubGlobal("fetch", (url: string, init: { body: string | null }) => {
  sent.push({ url, body: init.body ? JSON.parse(init.body) : {} });
  const [status, body] = reply;
  return Promise.resolve({
    status,
    ok: status < 400,
    redirected: false,
    text: () => Promise.resolve(JSON.stringify(body)),
  });
});

const stale = {
  detail: "Changed by someone else.",
  errors: [{ field: "revision", message: "Stale revision 2; the current revision is 4." }],
  revision: 4,
};

beforeEach(() => {
  sent = [];
  reply = [200, {}];
});

describe("writes carry the revision they are based on", () => {
  it("sends it with a draft, a script and a connector", async () => {
    await putDraft(1, { shapes: [], connections: [] }, 7);
    await saveScriptDraft(2, { code: "x", description: "" }, 3);
    await saveConnector(5, { name: "Shop", revision: 9 } as ConnectorInput);

    expect(sent.map((call) => call.body.revision)).toEqual([7, 3, 9]);
  });

  it("leaves it out when it is not known (an older client's write)", async () => {
    await putDraft(1, { shapes: [], connections: [] }, null);
    await saveScriptDraft(2, { code: "x", description: "" }, undefined);

    expect(sent.map((call) => "revision" in call.body)).toEqual([false, false]);
  });

  it("turns a 409 with the current revision into a stale-revision error", async () => {
    reply = [409, stale];
    const error = await saveScriptDraft(2, { code: "x", description: "" }, 2).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).isStaleRevision).toBe(true);
    expect((error as ApiError).currentRevision).toBe(4);
  });

  it("does not take other 409s for a stale revision", async () => {
    reply = [409, { detail: "The flow is disabled.", errors: [] }];
    const error = (await putDraft(1, { shapes: [], connections: [] }, 1).catch(
      (e: unknown) => e,
    )) as ApiError;

    expect(error.status).toBe(409);
    expect(error.isStaleRevision).toBe(false);
  });
});
