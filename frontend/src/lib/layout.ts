/**
 * Auto-layout: dagre, left to right, fed by the pure `layoutInput`. dagre puts every shape without a
 * connection on the first rank, i.e. in one column under the trigger, as if they started the flow; such
 * shapes go in rows below the connected ones instead, left to right, the way n8n's tidy-up parks them.
 */
import dagre from "@dagrejs/dagre";
import type { FlowGraph } from "../shapes/types";
import { applyPositions, layoutInput } from "./graph";

const MARGIN = 20;
const NODE_GAP = 40;
const RANK_GAP = 90;
/** Unconnected shapes per row below the flow. */
const LOOSE_PER_ROW = 4;

export function autoLayout(graph: FlowGraph): FlowGraph {
  const input = layoutInput(graph);
  const connected = new Set(input.edges.flatMap((e) => [e.source, e.target]));
  const linked = input.nodes.filter((n) => connected.has(n.id));
  const loose = input.nodes.filter((n) => !connected.has(n.id));
  const positions = new Map<string, { x: number; y: number }>();
  let bottom = MARGIN;
  if (linked.length > 0) {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: NODE_GAP, ranksep: RANK_GAP, marginx: MARGIN, marginy: MARGIN });
    g.setDefaultEdgeLabel(() => ({}));
    for (const node of linked) g.setNode(node.id, { width: node.width, height: node.height });
    for (const edge of input.edges) g.setEdge(edge.source, edge.target, { weight: edge.weight });
    dagre.layout(g);
    for (const node of linked) {
      const laid = g.node(node.id) as { x: number; y: number } | undefined;
      if (!laid) continue;
      // dagre gives centres; the canvas positions shapes by their top-left corner.
      const top = laid.y - node.height / 2;
      positions.set(node.id, { x: laid.x - node.width / 2, y: top });
      bottom = Math.max(bottom, top + node.height + NODE_GAP);
    }
  }
  // Unconnected shapes keep their order in the graph (the order they were added in).
  loose.forEach((node, index) => {
    const column = index % LOOSE_PER_ROW;
    const row = Math.floor(index / LOOSE_PER_ROW);
    positions.set(node.id, {
      x: MARGIN + column * (node.width + RANK_GAP),
      y: bottom + (linked.length > 0 ? NODE_GAP : 0) + row * (node.height + NODE_GAP),
    });
  });
  return applyPositions(graph, positions);
}
