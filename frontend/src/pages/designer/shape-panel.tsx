/** The settings of the selected shape (its kind's panel from the registry) or of the selected connection. */
import { memo, useRef, useState } from "react";
import type { ReactNode } from "react";
import { connectionKind } from "../../lib/graph";
import { describeCodeTwo } from "../../lib/response-codes";
import { SHAPES } from "../../shapes";
import type { Lookups } from "../../shapes";
import type { GraphError, Shape } from "../../shapes/types";
import { useCanWrite } from "../../session";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";

/** The flow's webhook URL in a webhook trigger's panel, for the roles that may run the flow (the API leaves
 * it out for the others). */
function WebhookAddress(): ReactNode {
  const url = useFlowSession((s) => s.flow?.webhook_url);
  const deployed = useFlowSession((s) => s.draftStatus.deployedVersion !== null);
  const canRun = useCanWrite();
  const [copied, setCopied] = useState<string | null>(null);
  const address = useRef<HTMLElement | null>(null);
  if (!url || !canRun) return null;
  const copy = async (): Promise<void> => {
    try {
      // The Clipboard API exists only in secure contexts (https, localhost): elsewhere select the text.
      await navigator.clipboard.writeText(url);
      setCopied("Copied");
    } catch {
      const selection = window.getSelection();
      if (selection && address.current) selection.selectAllChildren(address.current);
      setCopied("Selected: press Ctrl+C to copy");
    }
    window.setTimeout(() => setCopied(null), 2500);
  };
  return (
    <div className="field">
      <label>Webhook URL</label>
      <div className="copy-row">
        <code className="copyable" data-testid="trigger-webhook-url" ref={address}>
          {url}
        </code>
        <button type="button" className="small" aria-label="Copy the webhook URL" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      {copied ? (
        <div className="hint" role="status">
          {copied}
        </div>
      ) : null}
      <div className="hint">
        {deployed ? "POST or GET here to start the deployed version." : "Answers once the flow is deployed."}
      </div>
    </div>
  );
}

/** Under a connector shape's response-script picker: what response code 2 does in this flow, since the
 * flow's run retries (flow settings, 0 for a new flow) decide it and the script cannot see them. */
function CodeTwoHint(): ReactNode {
  const flow = useFlowSession((s) => s.flow);
  if (!flow) return null;
  const hint = describeCodeTwo([{ name: flow.name, max_run_retries: flow.max_run_retries ?? 0 }]);
  return (
    <div className={flow.max_run_retries ? "hint" : "hint warning"} data-testid="code-two-hint">
      {hint}
    </div>
  );
}

export const ShapePanel = memo(function ShapePanel({
  shape,
  errors,
  lookups,
  readOnly,
}: {
  shape: Shape;
  errors: GraphError[];
  lookups: Lookups;
  readOnly: boolean;
}): ReactNode {
  const updateShape = useDesigner((s) => s.updateShape);
  const definition = SHAPES[shape.type];
  const Panel = definition.Panel as (props: {
    shape: Shape;
    onChange: (settings: Shape["settings"]) => void;
    errors: GraphError[];
    readOnly: boolean;
    lookups: Lookups;
  }) => ReactNode;
  const general = errors.filter((e) => e.setting === null);
  return (
    <div className="settings" data-testid="shape-panel" data-shape-id={shape.id}>
      <div className="panel-title">
        <span className="shape-badge small" style={{ ["--accent" as string]: definition.color }} aria-hidden>
          {definition.icon}
        </span>
        {definition.label} <code className="hint">{shape.id}</code>
      </div>
      <div className="field">
        <label htmlFor="shape-name">Name</label>
        <input
          id="shape-name"
          value={shape.name}
          readOnly={readOnly}
          onChange={(e) => updateShape(shape.id, { name: e.target.value })}
        />
      </div>
      {general.map((e) => (
        <div key={e.message} className="field-error" role="alert">
          {e.message}
        </div>
      ))}
      <Panel
        shape={shape}
        errors={errors}
        lookups={lookups}
        readOnly={readOnly}
        onChange={(settings) => updateShape(shape.id, { settings })}
      />
      {shape.type === "connector" && shape.settings.response_script !== null ? <CodeTwoHint /> : null}
      {shape.type === "trigger" && shape.settings.kind === "webhook" ? <WebhookAddress /> : null}
    </div>
  );
});

export function ConnectionPanel({ edgeId, readOnly }: { edgeId: string; readOnly: boolean }): ReactNode {
  const edge = useDesigner((s) => s.edges.find((e) => e.id === edgeId));
  const source = useDesigner((s) => s.nodes.find((n) => n.id === edge?.source)?.data.shape);
  const updateConnection = useDesigner((s) => s.updateConnection);
  if (!edge || !source) return null;
  const kind = connectionKind(source.type);
  return (
    <div className="settings" data-testid="connection-panel">
      <div className="panel-title">
        Connection {edge.source} → {edge.target}
      </div>
      {kind === "plain" ? (
        <p className="hint">This connection carries no label. Press Delete to remove it.</p>
      ) : null}
      {kind === "order" ? (
        <div className="field">
          <label htmlFor="edge-order">Branch order</label>
          <select
            id="edge-order"
            value={edge.data?.order ?? 1}
            disabled={readOnly}
            onChange={(e) => updateConnection(edge.id, { order: Number(e.target.value) })}
          >
            {[1, 2, 3, 4, 5, 6].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      {kind === "label" ? (
        <div className="field">
          <label htmlFor="edge-label">{source.type === "try_catch" ? "Path" : "Route"}</label>
          <select
            id="edge-label"
            value={edge.data?.label ?? ""}
            disabled={readOnly}
            onChange={(e) => updateConnection(edge.id, { label: e.target.value })}
          >
            <option value="">(none)</option>
            {(source.type === "try_catch"
              ? ["try", "catch"]
              : source.type === "route"
                ? source.settings.routes.map((r) => r.label)
                : []
            ).map((label) => (
              <option key={label} value={label}>
                {label}
              </option>
            ))}
          </select>
          {source.type === "route" && source.settings.routes.length === 0 ? (
            <div className="hint">Add routes in the route shape's settings first.</div>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
