/** Draft autosave: a quiet moment after the last edit, before leaving the designer, and a guard on unload. */
import { useCallback, useEffect } from "react";
import { useSaveBeforeLeaving } from "../../components/leave-guard";
import type { LeaveGuard } from "../../components/leave-guard";
import { graphKey } from "../../lib/serialize";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";

const AUTOSAVE_DELAY_MS = 800;

/** Returns the guard of an in-app navigation held until the draft is saved (render its dialog). */
export function useDraftAutosave(readOnly: boolean): LeaveGuard {
  const revision = useDesigner((s) => s.revision);
  const loaded = useFlowSession((s) => s.loaded);
  const saveState = useFlowSession((s) => s.saveState);

  useEffect(() => {
    if (!loaded || revision === 0 || readOnly) return;
    useFlowSession.getState().markUnsaved();
    const timer = window.setTimeout(() => void useFlowSession.getState().save(), AUTOSAVE_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [revision, loaded, readOnly]);

  // Leaving the designer through an app link saves what the autosave timer had not sent yet, and goes on
  // only once the server has it (components/leave-guard.tsx).
  const saveNow = useCallback(async (): Promise<boolean> => {
    await useFlowSession.getState().save();
    const canvas = useDesigner.getState();
    return graphKey(canvas.graph()) === canvas.savedKey;
  }, []);
  const guard = useSaveBeforeLeaving(!readOnly && loaded && saveState !== "saved", saveNow);

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent): void => {
      const canvas = useDesigner.getState();
      if (graphKey(canvas.graph()) !== canvas.savedKey && !readOnly) event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [readOnly]);
  return guard;
}
