/** The designer's keyboard shortcuts (Ctrl+S, Delete, undo / redo, copy / paste). */
import { useEffect } from "react";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";

/** Whether a key event goes to a form control (then the canvas leaves it alone). */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

export function useDesignerShortcuts(readOnly: boolean): void {
  useEffect(() => {
    const store = useDesigner.getState;
    const onKey = (event: KeyboardEvent): void => {
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (mod && key === "s") {
        event.preventDefault();
        void useFlowSession.getState().save();
        return;
      }
      if (isTyping(event.target) || readOnly) return;
      if (event.key === "Delete" || event.key === "Backspace") {
        event.preventDefault();
        store().deleteSelection();
      } else if (mod && key === "z" && !event.shiftKey) {
        event.preventDefault();
        store().undo();
      } else if (mod && (key === "y" || (key === "z" && event.shiftKey))) {
        event.preventDefault();
        store().redo();
      } else if (mod && key === "c") {
        store().copySelection();
      } else if (mod && key === "v") {
        event.preventDefault();
        store().paste();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [readOnly]);
}
