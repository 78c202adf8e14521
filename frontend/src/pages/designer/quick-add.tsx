/**
 * Quick-add (Tab or Ctrl+K): type to find a shape, Enter inserts it after the selected shape and connects
 * it; the shortcut sheet (?) lists the designer's keys.
 */
import { useMemo, useState } from "react";
import type { KeyboardEvent, ReactNode } from "react";
import { PALETTE, SHAPES } from "../../shapes";
import type { ShapeType } from "../../shapes/types";

/** Shapes whose label, type or description contains every word of `query`, best (label) matches first. */
export function searchShapes(query: string): ShapeType[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const scored = PALETTE.map((type) => {
    const def = SHAPES[type];
    const label = def.label.toLowerCase();
    const haystack = `${label} ${type.replaceAll("_", " ")} ${def.description.toLowerCase()}`;
    if (!words.every((word) => haystack.includes(word))) return null;
    const score =
      words.length === 0 ? 0 : label.startsWith(words[0] ?? "") ? 0 : label.includes(words[0] ?? "") ? 1 : 2;
    return { type, score };
  }).filter((entry): entry is { type: ShapeType; score: number } => entry !== null);
  return scored.sort((a, b) => a.score - b.score).map((entry) => entry.type);
}

export function QuickAdd({
  anchorName,
  onPick,
  onClose,
}: {
  /** The selected shape the new one will follow, or null. */
  anchorName: string | null;
  onPick: (type: ShapeType) => void;
  onClose: () => void;
}): ReactNode {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const found = useMemo(() => searchShapes(query), [query]);
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>): void => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive((i) => Math.min(i + 1, found.length - 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((i) => Math.max(i - 1, 0));
    } else if (event.key === "Enter") {
      event.preventDefault();
      const type = found[active];
      if (type) onPick(type);
    } else if (event.key === "Escape") {
      event.preventDefault();
      onClose();
    }
  };
  return (
    <div className="overlay-backdrop" role="presentation" onClick={onClose}>
      <div
        className="overlay-panel quick-add"
        role="dialog"
        aria-label="Add a shape"
        onClick={(e) => e.stopPropagation()}
      >
        <input
          autoFocus
          aria-label="Search shapes"
          placeholder={anchorName ? `Add a shape after “${anchorName}”…` : "Add a shape…"}
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setActive(0);
          }}
          onKeyDown={onKeyDown}
          role="combobox"
          aria-expanded
          aria-controls="quick-add-results"
        />
        <ul id="quick-add-results" role="listbox" aria-label="Shapes">
          {found.length === 0 ? <li className="hint">No shape matches.</li> : null}
          {found.map((type, index) => (
            <li
              key={type}
              role="option"
              aria-selected={index === active}
              data-shape-type={type}
              onMouseEnter={() => setActive(index)}
              onClick={() => onPick(type)}
            >
              <strong>{SHAPES[type].label}</strong> <span className="hint">{SHAPES[type].description}</span>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}

const SHORTCUTS: [string, string][] = [
  ["Tab or Ctrl+K", "Add a shape after the selected one (search, Enter)"],
  ["Ctrl+A", "Select every shape"],
  ["Delete / Backspace", "Delete the selection"],
  ["Ctrl+C / Ctrl+V", "Copy / paste the selected shapes"],
  ["Ctrl+Z / Ctrl+Y", "Undo / redo"],
  ["Ctrl+S", "Save the draft now (it also saves itself)"],
  ["Shift+drag", "Select shapes inside a box"],
  ["Ctrl/Shift+click", "Add a shape to the selection"],
  ["?", "Show this sheet"],
  ["Esc", "Close a dialog"],
];

export function ShortcutSheet({ onClose }: { onClose: () => void }): ReactNode {
  return (
    <div className="overlay-backdrop" role="presentation" onClick={onClose}>
      <div
        className="overlay-panel shortcut-sheet"
        role="dialog"
        aria-label="Keyboard shortcuts"
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => e.key === "Escape" && onClose()}
      >
        <div className="page-head">
          <h2>Keyboard shortcuts</h2>
          <button type="button" className="icon-button" aria-label="Close" autoFocus onClick={onClose}>
            ×
          </button>
        </div>
        <table>
          <tbody>
            {SHORTCUTS.map(([keys, what]) => (
              <tr key={keys}>
                <td>
                  <kbd>{keys}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
