/** How a shape looks on the canvas: accent, name, summary, validation badge and the live run overlay. */
import { Handle, Position, useStore } from "@xyflow/react";
import type { NodeProps } from "@xyflow/react";
import { memo } from "react";
import type { ReactNode } from "react";
import type { ShapeNode } from "../lib/serialize";
import { SHAPES } from "../shapes";
import type { Lookups } from "../shapes";
import type { Shape, ShapeType } from "../shapes/types";
import { useResources } from "../store/resources";

function summaryOf(shape: Shape, lookups: Lookups): string {
  const definition = SHAPES[shape.type as ShapeType] as { summary: (s: unknown, l: Lookups) => string };
  try {
    return definition.summary(shape.settings, lookups);
  } catch {
    return "";
  }
}

/** Below this zoom the text is unreadable anyway: shapes draw as plain coloured boxes (much cheaper). */
const DETAIL_ZOOM = 0.45;

function ShapeNodeView({ data, selected }: NodeProps<ShapeNode>): ReactNode {
  const { shape, errors, overlay } = data;
  const definition = SHAPES[shape.type];
  const detailed = useStore((s) => s.transform[2] >= DETAIL_ZOOM);
  const classes = ["shape-node"];
  if (selected) classes.push("selected");
  if (errors.length > 0) classes.push("invalid");
  if (overlay) classes.push(`status-${overlay.status}`);
  return (
    <div
      className={classes.join(" ")}
      style={{ ["--accent" as string]: definition.color }}
      data-shape-id={shape.id}
      data-shape-type={shape.type}
      title={errors.map((e) => e.message).join("\n") || definition.description}
    >
      {shape.type !== "trigger" ? <Handle type="target" position={Position.Left} /> : null}
      {detailed ? (
        <ShapeDetail shape={shape} errors={errors} overlay={overlay} />
      ) : (
        <div className="shape-name">{shape.name}</div>
      )}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

function ShapeDetail({ shape, errors, overlay }: ShapeNode["data"]): ReactNode {
  const definition = SHAPES[shape.type];
  const lookups = useResources();
  return (
    <>
      <div className="shape-badge" aria-hidden>
        {definition.icon}
      </div>
      <div className="shape-text">
        <div className="shape-name">{shape.name}</div>
        <div className="shape-summary">{summaryOf(shape, lookups)}</div>
      </div>
      {errors.length > 0 ? (
        <div className="shape-error-badge" aria-label={`${errors.length} problem(s)`}>
          {errors.length}
        </div>
      ) : null}
      {overlay ? (
        <div className={`shape-overlay overlay-${overlay.status}`} data-testid="shape-overlay">
          {overlay.status.replace("_", " ")} · {overlay.payloads}
        </div>
      ) : null}
    </>
  );
}

export const ShapeNodeComponent = memo(ShapeNodeView);
