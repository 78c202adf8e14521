/**
 * The one way the app talks HTTP: session cookie auth, the CSRF token from the shell page on writes, and
 * the API's error shape `{"detail", "errors": [...]}` turned into an ApiError the UI can show.
 */

export interface ApiErrorItem {
  field?: string;
  shape?: string | null;
  setting?: string | null;
  line?: number | null;
  column?: number | null;
  message: string;
  [key: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly errors: ApiErrorItem[];
  /** A 409 of a stale write (flow draft, script, connector) names the current revision. */
  readonly currentRevision: number | null;

  constructor(status: number, detail: string, errors: ApiErrorItem[], currentRevision: number | null = null) {
    super(detail);
    this.status = status;
    this.errors = errors;
    this.currentRevision = currentRevision;
  }

  /** A write based on a stale revision: someone else changed the object meanwhile. */
  get isStaleRevision(): boolean {
    return this.status === 409 && this.currentRevision !== null;
  }

  /** The detail plus every listed error, for a one-line message. */
  describe(): string {
    const items = this.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
    return items.length > 0 ? `${this.message} ${items.join(" ")}` : this.message;
  }
}

export function csrfToken(): string {
  const root = document.getElementById("root");
  const fromShell = root?.dataset.csrfToken;
  if (fromShell) return fromShell;
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie);
  return match?.[1] ? decodeURIComponent(match[1]) : "";
}

function normaliseErrors(body: unknown): { detail: string; errors: ApiErrorItem[] } {
  if (typeof body !== "object" || body === null) return { detail: "The request failed.", errors: [] };
  const record = body as Record<string, unknown>;
  const detail = typeof record.detail === "string" ? record.detail : "The request failed.";
  const errors: ApiErrorItem[] = [];
  if (Array.isArray(record.errors)) {
    for (const item of record.errors) {
      if (typeof item === "string") errors.push({ message: item });
      else if (typeof item === "object" && item !== null) {
        const e = item as Record<string, unknown>;
        errors.push({ ...e, message: typeof e.message === "string" ? e.message : JSON.stringify(e) });
      }
    }
  } else if (typeof record.detail !== "string") {
    // A plain DRF validation body: {"field": ["message"]}.
    for (const [field, messages] of Object.entries(record)) {
      const list = Array.isArray(messages) ? messages : [messages];
      for (const message of list) errors.push({ field, message: String(message) });
    }
  }
  return { detail, errors };
}

export async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Cannot reach the server. Check your connection and try again.", []);
  }
  if (response.status === 401 || (response.status === 403 && response.redirected)) {
    window.location.href = `/login/?next=${encodeURIComponent(window.location.pathname)}`;
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const { detail, errors } = normaliseErrors(parsed);
    const fallback = response.status >= 500 ? `The server failed (${response.status}).` : detail;
    const revision =
      parsed !== null &&
      typeof parsed === "object" &&
      typeof (parsed as { revision?: unknown }).revision === "number"
        ? (parsed as { revision: number }).revision
        : null;
    throw new ApiError(
      response.status,
      detail === "The request failed." ? fallback : detail,
      errors,
      revision,
    );
  }
  return parsed as T;
}

export const api = {
  get: <T>(url: string): Promise<T> => request<T>("GET", url),
  post: <T>(url: string, body?: unknown): Promise<T> => request<T>("POST", url, body ?? {}),
  put: <T>(url: string, body: unknown): Promise<T> => request<T>("PUT", url, body),
  patch: <T>(url: string, body: unknown): Promise<T> => request<T>("PATCH", url, body),
  delete: <T>(url: string): Promise<T> => request<T>("DELETE", url),
};

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** A list endpoint's items, paginated (`{results}`) or not (a bare list). */
export function itemsOf<T>(body: Page<T> | T[]): T[] {
  return Array.isArray(body) ? body : body.results;
}

/** Every item of a paginated list (follows `next` up to `maxPages`). */
export async function getAll<T>(url: string, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let next: string | null = url;
  for (let page = 0; next !== null && page < maxPages; page += 1) {
    const body: Page<T> | T[] = await api.get<Page<T> | T[]>(next);
    if (Array.isArray(body)) return [...items, ...body];
    items.push(...body.results);
    next = body.next;
  }
  return items;
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}

export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
