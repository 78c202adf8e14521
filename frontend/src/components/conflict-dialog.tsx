/**
 * A write met a newer version saved elsewhere (409 with the current revision): the person chooses to
 * reload what was saved there (dropping their unsaved changes) or to overwrite it with theirs.
 */
import type { ReactNode } from "react";

export function ConflictDialog(props: {
  /** What was changed, e.g. "This draft". */
  what: string;
  revision: number;
  onReload: () => void;
  onOverwrite: () => void;
}): ReactNode {
  return (
    <div className="modal-backdrop" role="presentation">
      <div className="modal" role="alertdialog" aria-label="Changed elsewhere">
        <h2>Changed elsewhere</h2>
        <p>
          {props.what} was saved by someone else (another tab or editor) since you opened it; it is now at
          revision {props.revision}. Your changes are not saved.
        </p>
        <div className="modal-actions">
          <button type="button" onClick={props.onReload}>
            Reload their version
          </button>
          <button type="button" className="primary" onClick={props.onOverwrite}>
            Overwrite with mine
          </button>
        </div>
      </div>
    </div>
  );
}
