/** Who is signed in, read from the shell page (#root data attributes) and confirmed by /api/me/. */
import { create } from "zustand";
import { api } from "./api/client";
import type { Me } from "./api/types";

function fromShell(): Me {
  const root = document.getElementById("root");
  const roles = (root?.dataset.roles ?? "").split(",").filter(Boolean);
  return {
    id: 0,
    username: root?.dataset.username ?? "",
    roles,
    can_write: roles.includes("admin") || roles.includes("editor"),
  };
}

interface SessionState {
  me: Me;
  refresh: () => Promise<void>;
}

export const useSession = create<SessionState>()((set) => ({
  me: fromShell(),
  refresh: async () => {
    try {
      set({ me: await api.get<Me>("/api/me/") });
    } catch {
      // Keep what the shell page said; the API calls themselves report problems.
    }
  },
}));

export function useCanWrite(): boolean {
  return useSession((s) => s.me.can_write);
}
