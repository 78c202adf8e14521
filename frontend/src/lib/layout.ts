/** Auto-layout: dagre, left to right, fed by the pure `layoutInput`. */
import dagre from "@dagrejs/dagre";
import type { FlowGraph } from "../shapes/types";
import { applyPositions, layoutInput } from "./graph";

export function autoLayout(graph: FlowGraph): FlowGraph {
  const input = layoutInput(graph);
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of input.nodes) g.setNode(node.id, { width: node.width, height: node.height });
  for (const edge of input.edges) g.setEdge(edge.source, edge.target, { weight: edge.weight });
  dagre.layout(g);
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of input.nodes) {
    const laid = g.node(node.id) as { x: number; y: number } | undefined;
    // dagre gives centres; the canvas positions shapes by their top-left corner.
    if (laid) positions.set(node.id, { x: laid.x - node.width / 2, y: laid.y - node.height / 2 });
  }
  return applyPositions(graph, positions);
}
