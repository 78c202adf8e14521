/**
 * The designer's persistence: the open flow's settings, loading and autosaving its draft, deploy, validate,
 * version restore and starting a run. Components call these actions; none of them talks HTTP itself.
 *
 * The canvas elements live in `useDesigner`; this store reads the graph from there and writes back the
 * server's validation errors. Both stores are shared by every designer visit, so every answer that comes back
 * is dropped when the designer meanwhile opened another flow.
 */
import { create } from "zustand";
import { ApiError, errorMessage } from "../api/client";
import {
  deployFlow,
  getDraft,
  getFlow,
  graphErrorsOf,
  putDraft,
  restoreFlowVersion,
  startFlowRun,
  startTestRun,
  updateFlow,
  validateFlow,
} from "../api/flows";
import type { DraftBody, FlowSettings } from "../api/flows";
import type { Flow } from "../api/types";
import { fitViewport, validateGraph } from "../lib/graph";
import { graphKey, parseGraph } from "../lib/serialize";
import { useSession } from "../session";
import { useDesigner } from "./designer";
import { useResources } from "./resources";

export type SaveState = "saved" | "saving" | "unsaved" | "error";

export interface DesignerMessage {
  kind: "error" | "info" | "success";
  text: string;
}

/** How the draft relates to what Run now runs. */
export interface DraftStatus {
  deployedVersion: number | null;
  differs: boolean;
}

/** What a run started from the designer executes. */
export type RunKind = "deployed" | "test" | "deploy-and-run";

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface FlowSessionState {
  flowId: number | null;
  flow: Flow | null;
  loaded: boolean;
  loadError: string | null;
  /** The fitted view the canvas opens at (computed from the draft before the first paint). */
  initialViewport: Viewport;
  saveState: SaveState;
  message: DesignerMessage | null;
  /** The run shown in the run dock and painted on the canvas. */
  runId: number | null;
  /** The draft revision the canvas is based on (sent with every save). */
  revision: number | null;
  /** Set when a save met a newer draft saved elsewhere: autosave pauses until the user reloads or
   * overwrites. */
  conflict: { revision: number } | null;
  /** Whether the run in the dock is a test run of the draft (so the canvas shows what it runs). */
  runIsTest: boolean;
  draftStatus: DraftStatus;

  /** Load flow `flowId` and its draft into the canvas; `pane` is the canvas size the view is fitted to.
   * Returns a function that drops the answers (call it when the designer unmounts). */
  open: (flowId: number, pane: { width: number; height: number }) => () => void;
  /** Save the draft now unless it is unchanged (waits for a save in flight first). */
  save: () => Promise<void>;
  /** The canvas changed: the autosave is pending. */
  markUnsaved: () => void;
  deploy: () => Promise<void>;
  validate: () => Promise<void>;
  /** Start a run: of the deployed version, a test run of the draft, or deploy the draft and run it. */
  startRun: (payload: string | null, variables: Record<string, string>, kind?: RunKind) => Promise<void>;
  /** Show run `runId` in the dock instead (the dock follows a queued retry). */
  followRun: (runId: number) => void;
  /** Save the flow's settings; resolves to the line to show under the form. */
  saveSettings: (settings: FlowSettings) => Promise<string>;
  restoreVersion: (number: number) => Promise<void>;
  /** Conflict: drop the canvas's unsaved changes and load the draft saved elsewhere. */
  reloadDraft: () => Promise<void>;
  /** Conflict: save the canvas over the draft saved elsewhere. */
  overwriteDraft: () => Promise<void>;
  closeRun: () => void;
  setMessage: (message: DesignerMessage | null) => void;
}

const canWrite = (): boolean => useSession.getState().me.can_write;

const statusOf = (draft: DraftBody, previous: DraftStatus): DraftStatus => ({
  deployedVersion: draft.deployed_version === undefined ? previous.deployedVersion : draft.deployed_version,
  differs: draft.differs_from_deployed ?? previous.differs,
});
const canvas = useDesigner.getState;

export const useFlowSession = create<FlowSessionState>()((set, get) => {
  let saving: Promise<void> | null = null;
  let openCount = 0;

  /** Still the flow this action started for (the user may have navigated on meanwhile). */
  const current = (flowId: number): boolean => get().flowId === flowId && canvas().flowId === flowId;

  return {
    flowId: null,
    flow: null,
    loaded: false,
    loadError: null,
    initialViewport: { x: 0, y: 0, zoom: 1 },
    saveState: "saved",
    message: null,
    runId: null,
    revision: null,
    conflict: null,
    runIsTest: false,
    draftStatus: { deployedVersion: null, differs: false },

    open: (flowId, pane) => {
      openCount += 1;
      const ticket = openCount;
      set({
        flowId,
        flow: null,
        loaded: false,
        loadError: null,
        saveState: "saved",
        message: null,
        runId: null,
        revision: null,
        conflict: null,
        runIsTest: false,
        draftStatus: { deployedVersion: null, differs: false },
      });
      Promise.all([getFlow(flowId), getDraft(flowId)])
        .then(([flow, draft]) => {
          if (ticket !== openCount) return;
          const graph = parseGraph(draft);
          canvas().load(flowId, graph);
          canvas().setErrors(draft.errors ?? []);
          set({
            flow,
            loaded: true,
            revision: draft.revision ?? null,
            initialViewport: fitViewport(graph, pane.width, pane.height),
            draftStatus: statusOf(draft, { deployedVersion: flow.deployed_version ?? null, differs: false }),
          });
          // Reference data for the panels comes second, so the draft is not queued behind it.
          void useResources.getState().load();
        })
        .catch((e: unknown) => {
          if (ticket === openCount) set({ loadError: errorMessage(e) });
        });
      return () => {
        if (ticket === openCount) openCount += 1;
      };
    },

    save: async () => {
      const { flowId } = get();
      // The canvas store is shared: only save while it still holds this flow, and take the graph now.
      if (flowId === null || !canWrite() || canvas().flowId !== flowId) return;
      if (get().conflict) return; // the user decides first: reload or overwrite
      const graph = canvas().graph();
      if (saving) await saving;
      if (canvas().flowId === flowId && graphKey(graph) === canvas().savedKey) {
        if (get().flowId === flowId) set({ saveState: "saved" });
        return;
      }
      set({ saveState: "saving" });
      const pending = putDraft(flowId, graph, get().revision)
        .then((body) => {
          if (canvas().flowId !== flowId) return;
          set({ revision: body.revision ?? null });
          canvas().markSaved(graph);
          canvas().setErrors(body.errors ?? [], graph);
          set({ draftStatus: statusOf(body, get().draftStatus) });
          set({ saveState: graphKey(canvas().graph()) === graphKey(graph) ? "saved" : "unsaved" });
        })
        .catch((e: unknown) => {
          set({ saveState: "error" });
          if (e instanceof ApiError && e.isStaleRevision && e.currentRevision !== null) {
            set({ conflict: { revision: e.currentRevision } });
            return;
          }
          const graphErrors = graphErrorsOf(e);
          if (graphErrors.length > 0) canvas().setErrors(graphErrors);
          set({ message: { kind: "error", text: `Could not save the draft: ${errorMessage(e)}` } });
        })
        .finally(() => {
          saving = null;
        });
      saving = pending;
      await pending;
    },

    markUnsaved: () => set({ saveState: "unsaved" }),

    deploy: async () => {
      const { flowId } = get();
      if (flowId === null) return;
      await get().save();
      const local = validateGraph(canvas().graph());
      try {
        const result = await deployFlow(flowId);
        canvas().setErrors([]);
        set({
          message: { kind: "success", text: `Deployed version ${result.version}.` },
          draftStatus: { deployedVersion: result.version, differs: false },
        });
        const flow = await getFlow(flowId);
        if (current(flowId)) set({ flow });
      } catch (e) {
        const graphErrors = graphErrorsOf(e);
        canvas().setErrors(graphErrors.length > 0 ? graphErrors : local);
        set({
          message: {
            kind: "error",
            text: `Deploy refused: ${e instanceof ApiError ? e.message : errorMessage(e)} See the marked shapes.`,
          },
        });
      }
    },

    validate: async () => {
      const { flowId } = get();
      if (flowId === null) return;
      await get().save();
      try {
        await validateFlow(flowId, canvas().graph());
        canvas().setErrors([]);
        set({ message: { kind: "success", text: "The flow is valid." } });
      } catch (e) {
        const graphErrors = graphErrorsOf(e);
        canvas().setErrors(graphErrors);
        set({
          message: {
            kind: "error",
            text: `${graphErrors.length || "Some"} problem(s) found. See the marked shapes.`,
          },
        });
      }
    },

    startRun: async (payload, variables, kind = "deployed") => {
      const { flowId } = get();
      if (flowId === null) return;
      // A test run or a deploy runs the draft on the server: send what the canvas holds first.
      if (kind !== "deployed") await get().save();
      if (kind === "deploy-and-run") {
        await get().deploy();
        if (!current(flowId) || get().draftStatus.differs || get().saveState === "error") return;
        if (get().message?.kind === "error") return;
      }
      try {
        const input = { payload, variables };
        const run = kind === "test" ? await startTestRun(flowId, input) : await startFlowRun(flowId, input);
        if (!current(flowId)) return;
        canvas().setOverlay(run.id, {});
        // The dock shows the new run; a banner per run would only pile up.
        set({ runId: run.id, runIsTest: kind === "test", message: null });
      } catch (e) {
        const graphErrors = graphErrorsOf(e);
        if (graphErrors.length > 0) canvas().setErrors(graphErrors);
        const what = kind === "test" ? "a test run" : "a run";
        set({ message: { kind: "error", text: `Could not start ${what}: ${errorMessage(e)}` } });
      }
    },

    followRun: (runId) => {
      if (get().runId === runId) return;
      canvas().setOverlay(runId, {});
      set({ runId });
    },

    saveSettings: async (settings) => {
      const { flowId } = get();
      if (flowId === null) return "";
      try {
        const flow = await updateFlow(flowId, settings);
        if (get().flowId === flowId) set({ flow });
        return "Flow settings saved.";
      } catch (e) {
        return errorMessage(e);
      }
    },

    restoreVersion: async (number) => {
      const { flowId } = get();
      if (flowId === null) return;
      const body = await restoreFlowVersion(flowId, number);
      if (get().flowId !== flowId) return;
      set({ revision: body.revision ?? null, conflict: null });
      canvas().load(flowId, parseGraph(body));
      canvas().setErrors(body.errors ?? []);
      set({
        message: { kind: "success", text: `Version ${number} restored as the draft.` },
        draftStatus: statusOf(body, get().draftStatus),
      });
    },

    reloadDraft: async () => {
      const { flowId } = get();
      if (flowId === null) return;
      try {
        const draft = await getDraft(flowId);
        if (!current(flowId)) return;
        canvas().load(flowId, parseGraph(draft));
        canvas().setErrors(draft.errors ?? []);
        set({
          revision: draft.revision ?? null,
          conflict: null,
          saveState: "saved",
          message: { kind: "info", text: "Reloaded the draft saved elsewhere." },
        });
      } catch (e) {
        set({ message: { kind: "error", text: `Could not reload the draft: ${errorMessage(e)}` } });
      }
    },

    overwriteDraft: async () => {
      const { conflict } = get();
      if (!conflict) return;
      // Based on the current revision now: the save replaces the draft saved elsewhere.
      set({ revision: conflict.revision, conflict: null });
      await get().save();
    },

    closeRun: () => {
      set({ runId: null, runIsTest: false });
      canvas().setOverlay(null, {});
    },

    setMessage: (message) => set({ message }),
  };
});
