/**
 * Reference data the panels pick from (connectors, endpoints, deployed scripts, flows), loaded once per
 * designer visit and refreshable. Kept apart from the graph store so canvas edits never refetch it.
 */
import { create } from "zustand";
import { errorMessage, getAll } from "../api/client";
import type { Connector, Endpoint, Flow, Script } from "../api/types";

interface ResourcesState {
  connectors: Connector[];
  endpoints: Endpoint[];
  scripts: Script[];
  deployedScripts: Script[];
  flows: Flow[];
  loaded: boolean;
  error: string | null;
  load: () => Promise<void>;
}

export const useResources = create<ResourcesState>()((set) => ({
  connectors: [],
  endpoints: [],
  scripts: [],
  deployedScripts: [],
  flows: [],
  loaded: false,
  error: null,
  load: async () => {
    try {
      const [connectors, endpoints, scripts, deployedScripts, flows] = await Promise.all([
        getAll<Connector>("/api/connectors/"),
        getAll<Endpoint>("/api/endpoints/"),
        getAll<Script>("/api/scripts/"),
        getAll<Script>("/api/scripts/?deployed=true"),
        getAll<Flow>("/api/flows/"),
      ]);
      set({ connectors, endpoints, scripts, deployedScripts, flows, loaded: true, error: null });
    } catch (error) {
      set({ loaded: true, error: errorMessage(error) });
    }
  },
}));
