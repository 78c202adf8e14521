/** Starting code for new scripts: the server's templates when it offers them, else these copies. */
import { api } from "../api/client";

const GENERAL = `def handle(data):
    # data["payload"]   : str or None - the payload as a string; decode it yourself (json.loads)
    # data["variables"] : dict str -> str   - variables of this shape
    # data["meta"]      : dict str -> str   - payload metadata
    # data["flow"]      : dict - {"id", "name", "run_id", "variables": {...}}
    # Optional: data["logs"] = ["a line for the run log"]
    return data
`;

const RESPONSE = `import json


def handle(data):
    # data["response"] : {"status": int, "headers": {str: str}, "body": str}
    # response_code: 0 continue, 1 retry the step, 2 fail the run and retry it,
    #                3 fail the run for good, 4 re-authenticate and retry once
    response = data["response"]
    if response["status"] >= 500:
        data["response_code"] = 1
        data["message"] = "Server error " + str(response["status"]) + ", retrying"
    else:
        data["response_code"] = 0
    return data
`;

export type Templates = { general: string; response: string };

let cached: Promise<Templates> | null = null;

export function loadTemplates(): Promise<Templates> {
  if (!cached) {
    cached = api
      .get<unknown>("/api/scripts/templates/")
      .then((body) => {
        const found: Templates = { general: GENERAL, response: RESPONSE };
        const list = Array.isArray(body)
          ? body
          : typeof body === "object" && body !== null
            ? Object.entries(body).map(([k, v]) => (typeof v === "string" ? { kind: k, code: v } : v))
            : [];
        for (const item of list as { kind?: string; name?: string; code?: string }[]) {
          const key = item.kind ?? item.name;
          if ((key === "general" || key === "response") && typeof item.code === "string")
            found[key] = item.code;
        }
        return found;
      })
      .catch(() => ({ general: GENERAL, response: RESPONSE }));
  }
  return cached;
}
