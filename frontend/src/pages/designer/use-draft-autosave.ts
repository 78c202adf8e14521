/** Draft autosave: a quiet moment after the last edit, on leaving the designer, and a guard on unload. */
import { useEffect } from "react";
import { graphKey } from "../../lib/serialize";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";

const AUTOSAVE_DELAY_MS = 800;

export function useDraftAutosave(readOnly: boolean): void {
  const revision = useDesigner((s) => s.revision);
  const loaded = useFlowSession((s) => s.loaded);

  useEffect(() => {
    if (!loaded || revision === 0 || readOnly) return;
    useFlowSession.getState().markUnsaved();
    const timer = window.setTimeout(() => void useFlowSession.getState().save(), AUTOSAVE_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [revision, loaded, readOnly]);

  // Leaving the designer inside the app saves what the autosave timer had not sent yet.
  useEffect(() => () => void useFlowSession.getState().save(), []);

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent): void => {
      const canvas = useDesigner.getState();
      if (graphKey(canvas.graph()) !== canvas.savedKey && !readOnly) event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [readOnly]);
}
