/** The canvas: the React Flow pane with drop, selection and connection handling, and the empty-flow hint. */
import { Background, Controls, MiniMap, ReactFlow, useReactFlow } from "@xyflow/react";
import type { Connection as FlowConnection, EdgeChange, NodeChange, NodeTypes } from "@xyflow/react";
import { useCallback, useEffect } from "react";
import type { DragEvent, ReactNode } from "react";
import { ShapeNodeComponent } from "../../canvas/shape-node";
import { SHAPE_HEIGHT, SHAPE_WIDTH } from "../../lib/graph";
import type { ConnectionEdge, ShapeNode } from "../../lib/serialize";
import { isShapeType, SHAPES } from "../../shapes";
import { useDesigner } from "../../store/designer";
import { useTheme } from "../../theme";
import type { Viewport } from "../../store/flow-session";
import { DRAG_TYPE } from "./palette";

const NODE_TYPES: NodeTypes = { shape: ShapeNodeComponent };
// Props of <ReactFlow> must keep their identity between renders: a new object or function is pushed into
// the canvas store and re-renders every edge (measured: 200 ms frames while dragging in a 500-shape flow).
const MULTI_SELECT_KEYS = ["Meta", "Control", "Shift"];
const EDGE_OPTIONS = { type: "smoothstep" };
const PRO_OPTIONS = { hideAttribution: true };
const minimapColor = (node: ShapeNode): string => SHAPES[node.data.shape.type].color;

export function DesignerCanvas({
  readOnly,
  loaded,
  initialViewport,
  runOpen,
}: {
  readOnly: boolean;
  loaded: boolean;
  initialViewport: Viewport;
  /** The run dock is open: the canvas is shorter, so the minimap would sit on the shapes. */
  runOpen: boolean;
}): ReactNode {
  const { screenToFlowPosition, fitView } = useReactFlow();
  // Refit once the dock has taken its space, so every shape and its live status stays in view.
  useEffect(() => {
    if (!runOpen) return;
    const frame = window.requestAnimationFrame(() => void fitView({ padding: 0.15, maxZoom: 1 }));
    return () => window.cancelAnimationFrame(frame);
  }, [runOpen, fitView]);
  const nodes = useDesigner((s) => s.nodes);
  const edges = useDesigner((s) => s.edges);
  const store = useDesigner.getState;
  const theme = useTheme((s) => s.theme);

  const onDrop = (event: DragEvent): void => {
    event.preventDefault();
    if (readOnly) return;
    const type = event.dataTransfer.getData(DRAG_TYPE) || event.dataTransfer.getData("text/plain");
    if (!isShapeType(type)) return;
    const position = screenToFlowPosition({ x: event.clientX, y: event.clientY });
    store().addShape(type, { x: position.x - SHAPE_WIDTH / 2, y: position.y - SHAPE_HEIGHT / 2 });
  };

  const onNodesChange = useCallback(
    (changes: NodeChange<ShapeNode>[]) =>
      store().onNodesChange(
        readOnly ? changes.filter((c) => c.type === "select" || c.type === "dimensions") : changes,
      ),
    [readOnly, store],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<ConnectionEdge>[]) =>
      store().onEdgesChange(readOnly ? changes.filter((c) => c.type === "select") : changes),
    [readOnly, store],
  );
  const onConnect = useCallback(
    (c: FlowConnection) => {
      if (!readOnly && c.source && c.target) store().connect(c.source, c.target);
    },
    [readOnly, store],
  );

  return (
    <div
      className="canvas"
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = "move";
      }}
      onDrop={onDrop}
    >
      <ReactFlow<ShapeNode>
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={null}
        multiSelectionKeyCode={MULTI_SELECT_KEYS}
        selectionKeyCode="Shift"
        onlyRenderVisibleElements
        minZoom={0.1}
        maxZoom={2}
        defaultViewport={initialViewport}
        defaultEdgeOptions={EDGE_OPTIONS}
        proOptions={PRO_OPTIONS}
        colorMode={theme}
      >
        <Background gap={16} />
        <Controls showInteractive={false} />
        {runOpen ? null : <MiniMap pannable zoomable nodeColor={minimapColor} />}
      </ReactFlow>
      {nodes.length === 0 && loaded ? (
        <div className="canvas-empty">
          <strong>An empty flow.</strong> Drag a <em>Trigger</em> from the palette to start, then add shapes
          and connect them.
        </div>
      ) : null}
    </div>
  );
}
