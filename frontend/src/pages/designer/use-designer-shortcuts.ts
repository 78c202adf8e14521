/** The designer's keyboard shortcuts (Ctrl+S, Delete, undo / redo, copy / paste, Ctrl+A, quick-add, ?). */
import { useEffect } from "react";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";

/** Whether a key event goes to a form control (then the canvas leaves it alone). */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

export interface ShortcutActions {
  /** Tab or Ctrl+K: open the quick-add search. */
  onQuickAdd: () => void;
  /** ?: open the shortcut sheet. */
  onHelp: () => void;
}

/** Tab belongs to focus moving, except on the page itself or the canvas. */
function onCanvasOrPage(target: EventTarget | null): boolean {
  return target === document.body || (target instanceof HTMLElement && target.closest(".canvas") !== null);
}

export function useDesignerShortcuts(readOnly: boolean, actions: ShortcutActions): void {
  const { onQuickAdd, onHelp } = actions;
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
      if (isTyping(event.target)) return;
      if (event.key === "?" && !mod) {
        event.preventDefault();
        onHelp();
        return;
      }
      if (mod && key === "a") {
        // All shapes, not the page's text.
        event.preventDefault();
        store().selectAll();
        return;
      }
      if (readOnly) return;
      if (
        (mod && key === "k") ||
        (event.key === "Tab" && !mod && !event.shiftKey && onCanvasOrPage(event.target))
      ) {
        event.preventDefault();
        onQuickAdd();
        return;
      }
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
  }, [readOnly, onQuickAdd, onHelp]);
}
