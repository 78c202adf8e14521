/** The flow's own settings and its graph-level problems, shown when nothing is selected. */
import { useReactFlow } from "@xyflow/react";
import { memo, useEffect, useState } from "react";
import type { ReactNode } from "react";
import type { Flow } from "../../api/types";
import { KeyValueEditor } from "../../shapes/fields";
import type { GraphError } from "../../shapes/types";
import { SHAPE_HEIGHT, SHAPE_WIDTH } from "../../lib/graph";
import { useDesigner } from "../../store/designer";
import { useFlowSession } from "../../store/flow-session";
import { AlertSettings } from "./alert-settings";

/** A problem line: the shape by its name, as a button that selects it and brings it to the centre. */
function ProblemLine({ error }: { error: GraphError }): ReactNode {
  const { setCenter, getZoom } = useReactFlow();
  const shape = useDesigner((s) => (error.shape ? s.nodes.find((n) => n.id === error.shape) : undefined));
  if (!error.shape || !shape) {
    return (
      <>
        {error.shape ? <code>{error.shape}</code> : null} {error.message}
      </>
    );
  }
  return (
    <button
      type="button"
      className="problem-link"
      title="Select this shape"
      onClick={() => {
        useDesigner.getState().selectOnly(shape.id);
        void setCenter(shape.position.x + SHAPE_WIDTH / 2, shape.position.y + SHAPE_HEIGHT / 2, {
          zoom: Math.max(getZoom(), 0.8),
          duration: 200,
        });
      }}
    >
      <strong>{shape.data.shape.name || shape.id}</strong>: {error.message}
    </button>
  );
}

export const FlowPanel = memo(function FlowPanel({
  flow,
  errors,
  readOnly,
}: {
  flow: Flow;
  errors: GraphError[];
  readOnly: boolean;
}): ReactNode {
  const saveSettings = useFlowSession((s) => s.saveSettings);
  const [draft, setDraft] = useState(flow);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => setDraft(flow), [flow]);
  const save = async (): Promise<void> => {
    setMessage(
      await saveSettings({
        description: draft.description,
        variables: draft.variables,
        max_run_retries: draft.max_run_retries,
      }),
    );
  };
  return (
    <div className="settings">
      <div className="panel-title">Flow settings</div>
      {errors.length > 0 ? (
        <div className="graph-errors" role="alert">
          <strong>Problems</strong>
          <ul>
            {errors.map((e, i) => (
              <li key={i}>
                <ProblemLine error={e} />
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <p className="hint">
          Select a shape or a connection to edit it. Drag shapes from the palette; connect them by dragging
          from the right handle.
        </p>
      )}
      <div className="field">
        <label htmlFor="flow-description">Description</label>
        <textarea
          id="flow-description"
          rows={2}
          value={draft.description}
          readOnly={readOnly}
          onChange={(e) => setDraft({ ...draft, description: e.target.value })}
        />
      </div>
      <KeyValueEditor
        label="Flow variables (defaults)"
        value={draft.variables}
        readOnly={readOnly}
        onChange={(variables) => setDraft({ ...draft, variables })}
      />
      <div className="field">
        <label htmlFor="flow-retries">Run retries (response code 2)</label>
        <input
          id="flow-retries"
          type="number"
          min={0}
          max={100}
          value={draft.max_run_retries}
          readOnly={readOnly}
          onChange={(e) => setDraft({ ...draft, max_run_retries: Number(e.target.value) })}
        />
      </div>
      {flow.webhook_url ? (
        <div className="field">
          <label>Webhook URL</label>
          <code className="copyable">{flow.webhook_url}</code>
        </div>
      ) : null}
      {!readOnly ? (
        <button type="button" onClick={() => void save()}>
          Save flow settings
        </button>
      ) : null}
      {message ? <div className="hint">{message}</div> : null}
      <AlertSettings flowId={flow.id} readOnly={readOnly} />
    </div>
  );
});
