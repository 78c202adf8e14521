/** The script resource's draft writes: each carries the revision it is based on. */
import { api } from "./client";
import type { Script } from "./types";

export const getScript = (id: number | string): Promise<Script> => api.get<Script>(`/api/scripts/${id}/`);

/** Save the draft code and description based on `revision` (a stale one is an ApiError with
 * `isStaleRevision`; without a revision the write overwrites whatever is stored). */
export const saveScriptDraft = (
  id: number | string,
  fields: { code: string; description: string },
  revision: number | undefined,
): Promise<Script> => api.patch<Script>(`/api/scripts/${id}/`, revision ? { ...fields, revision } : fields);
