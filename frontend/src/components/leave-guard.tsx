/**
 * Leaving a page through an app link while an edit is not saved yet: the router's blocker holds the
 * navigation, the page's save runs, and the navigation goes on only once the server has the edit. A failed
 * save keeps the person on the page and says so: retry the save, stay, or leave without it. (A save fired
 * on unmount and not awaited would lose the edit without a word when it fails.)
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";
import { useBlocker } from "react-router";

export interface LeaveGuard {
  /** null: not leaving; "saving": the save before leaving runs; "failed": it did not save. */
  state: "saving" | "failed" | null;
  retry: () => void;
  stay: () => void;
  leave: () => void;
}

/** `pending`: an edit is not on the server yet. `save` resolves true once the server has it. */
export function useSaveBeforeLeaving(pending: boolean, save: () => Promise<boolean>): LeaveGuard {
  const blocker = useBlocker(pending);
  const [state, setState] = useState<LeaveGuard["state"]>(null);
  const saveRef = useRef(save);
  useEffect(() => {
    saveRef.current = save;
  }, [save]);
  const attempt = useCallback(async (): Promise<void> => {
    if (blocker.state !== "blocked") return;
    setState("saving");
    if (await saveRef.current()) {
      setState(null);
      blocker.proceed();
    } else {
      setState("failed");
    }
  }, [blocker]);
  const blocked = blocker.state === "blocked";
  useEffect(() => {
    if (blocked) void attempt();
    // Only when a navigation is first held, not on every render while it is.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [blocked]);
  return {
    state: blocked ? state : null,
    retry: () => void attempt(),
    stay: () => {
      setState(null);
      if (blocker.state === "blocked") blocker.reset();
    },
    leave: () => {
      setState(null);
      if (blocker.state === "blocked") blocker.proceed();
    },
  };
}

/** The dialog of a held navigation: "saving…", or why the save failed with retry / stay / leave. */
export function LeaveGuardDialog(props: {
  guard: LeaveGuard;
  /** Why the edit is not saved (the save's error), shown when it failed. */
  reason: string;
  /** False when retrying cannot help (a conflict with a version saved elsewhere). */
  canRetry: boolean;
  what: string;
}): ReactNode {
  const { guard } = props;
  if (guard.state === null) return null;
  return (
    <div className="modal-backdrop" role="presentation">
      <div className="modal" role="alertdialog" aria-label="Leaving with an unsaved edit">
        {guard.state === "saving" ? (
          <p data-testid="leave-saving">Saving your last edit before leaving…</p>
        ) : (
          <>
            <h2>Your last edit is not saved</h2>
            <p data-testid="leave-failed">{props.reason} Leaving now loses it.</p>
            <div className="modal-actions">
              <button type="button" onClick={guard.stay}>
                Stay on this {props.what}
              </button>
              <button type="button" className="danger" onClick={guard.leave}>
                Leave without saving
              </button>
              {props.canRetry ? (
                <button type="button" className="primary" onClick={guard.retry}>
                  Retry the save
                </button>
              ) : null}
            </div>
          </>
        )}
      </div>
    </div>
  );
}
