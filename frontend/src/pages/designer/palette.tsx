/** The shape palette: drag a shape onto the canvas, or click / press Enter to add it at the centre. */
import { memo } from "react";
import type { DragEvent, ReactNode } from "react";
import { PALETTE, SHAPES } from "../../shapes";
import type { ShapeType } from "../../shapes/types";

/** The drag-and-drop data type the canvas accepts from the palette. */
export const DRAG_TYPE = "application/x-patchbay-shape";

export const Palette = memo(function Palette({
  onAdd,
  readOnly,
}: {
  onAdd: (type: ShapeType) => void;
  readOnly: boolean;
}): ReactNode {
  return (
    <aside className="palette" aria-label="Shapes">
      <div className="panel-title">Shapes</div>
      {PALETTE.map((type) => {
        const def = SHAPES[type];
        return (
          <button
            key={type}
            type="button"
            className="palette-item"
            draggable={!readOnly}
            disabled={readOnly}
            data-shape-type={type}
            title={`${def.description} Drag onto the canvas, or press Enter to add.`}
            style={{ ["--accent" as string]: def.color }}
            onDragStart={(event: DragEvent) => {
              event.dataTransfer.setData(DRAG_TYPE, type);
              event.dataTransfer.setData("text/plain", type);
              event.dataTransfer.effectAllowed = "move";
            }}
            onClick={() => onAdd(type)}
          >
            <span className="shape-badge small" aria-hidden>
              {def.icon}
            </span>
            {def.label}
          </button>
        );
      })}
    </aside>
  );
});
