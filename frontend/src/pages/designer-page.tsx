/**
 * The flow designer: palette, canvas, settings panel, versions, deploy and runs with a live overlay.
 */
import { Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useReactFlow } from "@xyflow/react";
import type { Connection as FlowConnection, EdgeChange, NodeChange, NodeTypes } from "@xyflow/react";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { DragEvent, ReactNode } from "react";
import { Link, useParams } from "react-router";
import { api, ApiError, errorMessage } from "../api/client";
import type { Flow, FlowVersion } from "../api/types";
import { ShapeNodeComponent } from "../canvas/shape-node";
import { formatTime, Loading, Notice, StatusPill } from "../components/ui";
import { useRun } from "../hooks/use-run";
import { connectionKind, fitViewport, SHAPE_HEIGHT, SHAPE_WIDTH, validateGraph } from "../lib/graph";
import { overlayFromSteps } from "../lib/overlay";
import { graphKey, parseGraph } from "../lib/serialize";
import type { ConnectionEdge, ShapeNode } from "../lib/serialize";
import { PALETTE, SHAPES } from "../shapes";
import type { Lookups } from "../shapes";
import { KeyValueEditor } from "../shapes/fields";
import type { GraphError, Shape, ShapeType } from "../shapes/types";
import { isShapeType } from "../shapes/types";
import { useCanWrite } from "../session";
import { useDesigner } from "../store/designer";
import { useResources } from "../store/resources";

const NODE_TYPES: NodeTypes = { shape: ShapeNodeComponent };
// Props of <ReactFlow> must keep their identity between renders: a new object or function is pushed into
// the canvas store and re-renders every edge (measured: 200 ms frames while dragging in a 500-shape flow).
const MULTI_SELECT_KEYS = ["Meta", "Control", "Shift"];
const EDGE_OPTIONS = { type: "smoothstep" };
const PRO_OPTIONS = { hideAttribution: true };
const minimapColor = (node: ShapeNode): string => SHAPES[node.data.shape.type].color;
const DRAG_TYPE = "application/x-patchbay-shape";
const AUTOSAVE_DELAY_MS = 800;

interface DraftBody {
  shapes: unknown[];
  connections: unknown[];
  errors?: GraphError[];
  updated_at?: string;
}

function graphErrorsOf(error: unknown): GraphError[] {
  if (!(error instanceof ApiError)) return [];
  return error.errors
    .filter((e) => "shape" in e || "setting" in e)
    .map((e) => ({
      shape: (e.shape as string | null) ?? null,
      setting: (e.setting as string | null) ?? null,
      message: e.message,
    }));
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

const Palette = memo(function Palette({
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

const ShapePanel = memo(function ShapePanel({
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
    </div>
  );
});

function ConnectionPanel({ edgeId, readOnly }: { edgeId: string; readOnly: boolean }): ReactNode {
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

const FlowPanel = memo(function FlowPanel({
  flow,
  onFlow,
  errors,
  readOnly,
}: {
  flow: Flow;
  onFlow: (flow: Flow) => void;
  errors: GraphError[];
  readOnly: boolean;
}): ReactNode {
  const [draft, setDraft] = useState(flow);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => setDraft(flow), [flow]);
  const save = async (): Promise<void> => {
    try {
      onFlow(
        await api.patch<Flow>(`/api/flows/${flow.id}/`, {
          description: draft.description,
          variables: draft.variables,
          max_run_retries: draft.max_run_retries,
        }),
      );
      setMessage("Flow settings saved.");
    } catch (e) {
      setMessage(errorMessage(e));
    }
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
                {e.shape ? <code>{e.shape}</code> : null} {e.message}
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
    </div>
  );
});

function VersionsPanel({
  flowId,
  onRestored,
  onClose,
  readOnly,
}: {
  flowId: number;
  onRestored: (body: DraftBody, number: number) => void;
  onClose: () => void;
  readOnly: boolean;
}): ReactNode {
  const [versions, setVersions] = useState<FlowVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api
      .get<FlowVersion[]>(`/api/flows/${flowId}/versions/`)
      .then(setVersions)
      .catch((e: unknown) => setError(errorMessage(e)));
  }, [flowId]);
  const restore = async (number: number): Promise<void> => {
    if (!window.confirm(`Replace the draft with version ${number}?`)) return;
    try {
      onRestored(await api.post<DraftBody>(`/api/flows/${flowId}/versions/${number}/restore/`), number);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <div className="drawer" role="dialog" aria-label="Versions">
      <div className="drawer-head">
        <strong>Versions</strong>
        <button type="button" className="icon-button" aria-label="Close versions" onClick={onClose}>
          ×
        </button>
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {versions === null ? (
        <Loading />
      ) : (
        <ul className="versions">
          {versions.map((v) => (
            <li key={v.number ?? "draft"}>
              <div>
                <strong>{v.number === null ? "Draft" : `v${v.number}`}</strong>{" "}
                <StatusPill status={v.status} />
                <div className="hint">
                  {v.deployed_at
                    ? `deployed ${formatTime(v.deployed_at)}${v.deployed_by ? ` by ${String(v.deployed_by)}` : ""}`
                    : `edited ${formatTime(v.created_at)}`}
                  {v.comment ? ` · ${v.comment}` : ""}
                </div>
              </div>
              {v.number !== null && !readOnly ? (
                <button type="button" className="small" onClick={() => void restore(v.number as number)}>
                  Restore as draft
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function RunDialog({
  onRun,
  onClose,
}: {
  onRun: (payload: string | null, variables: Record<string, string>) => void;
  onClose: () => void;
}): ReactNode {
  const [payload, setPayload] = useState("");
  const [variables, setVariables] = useState<Record<string, string>>({});
  return (
    <div className="modal-backdrop" role="presentation" onClick={onClose}>
      <div className="modal" role="dialog" aria-label="Run with payload" onClick={(e) => e.stopPropagation()}>
        <h2>Run with a payload</h2>
        <div className="field">
          <label htmlFor="run-payload">Input payload</label>
          <textarea
            id="run-payload"
            className="mono"
            rows={8}
            value={payload}
            placeholder='{"order_id": 42}'
            onChange={(e) => setPayload(e.target.value)}
          />
        </div>
        <KeyValueEditor
          label="Variables"
          value={variables}
          onChange={setVariables}
          valuePlaceholder="value"
        />
        <div className="modal-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="primary"
            onClick={() => onRun(payload === "" ? null : payload, variables)}
          >
            Start run
          </button>
        </div>
      </div>
    </div>
  );
}

function RunDrawer({ runId, onClose }: { runId: number; onClose: () => void }): ReactNode {
  const { run, steps, logs } = useRun(runId);
  const setOverlay = useDesigner((s) => s.setOverlay);
  useEffect(() => {
    setOverlay(runId, overlayFromSteps(steps));
  }, [runId, steps, setOverlay]);
  const end = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    end.current?.scrollIntoView({ block: "nearest" });
  }, [logs.length]);
  return (
    <div className="run-drawer" data-testid="run-drawer">
      <div className="drawer-head">
        <strong>
          Run <Link to={`/runs/${runId}`}>#{runId}</Link>
        </strong>
        <StatusPill status={run?.status} />
        <span className="hint">
          {steps.length} steps · {logs.length} log lines
        </span>
        <button type="button" className="icon-button" aria-label="Close run" onClick={onClose}>
          ×
        </button>
      </div>
      <div className="log mini-log" data-testid="designer-log">
        {logs.length === 0 ? <div className="hint">Waiting for log lines…</div> : null}
        {logs.slice(-200).map((line) => (
          <div key={line.seq} className={`log-line level-${line.level}`}>
            <span className="log-seq">{line.seq}</span>
            <span className="log-level">{line.level}</span>
            <span className="log-message">{line.message}</span>
          </div>
        ))}
        <div ref={end} />
      </div>
    </div>
  );
}

function Designer({ flowId }: { flowId: number }): ReactNode {
  const canWrite = useCanWrite();
  const readOnly = !canWrite;
  const { screenToFlowPosition, fitView } = useReactFlow();
  const nodes = useDesigner((s) => s.nodes);
  const edges = useDesigner((s) => s.edges);
  const errors = useDesigner((s) => s.errors);
  const revision = useDesigner((s) => s.revision);
  const notice = useDesigner((s) => s.notice);
  const store = useDesigner.getState;
  const lookups = useResources();
  const [flow, setFlow] = useState<Flow | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saveState, setSaveState] = useState<"saved" | "saving" | "unsaved" | "error">("saved");
  const [message, setMessage] = useState<{ kind: "error" | "info" | "success"; text: string } | null>(null);
  const [showVersions, setShowVersions] = useState(false);
  const [showRunDialog, setShowRunDialog] = useState(false);
  const [runId, setRunId] = useState<number | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [initialViewport, setInitialViewport] = useState({ x: 0, y: 0, zoom: 1 });
  const saving = useRef<Promise<void> | null>(null);

  useEffect(() => {
    let live = true;
    setLoaded(false);
    Promise.all([api.get<Flow>(`/api/flows/${flowId}/`), api.get<DraftBody>(`/api/flows/${flowId}/draft/`)])
      .then(([flowBody, draft]) => {
        if (!live) return;
        const graph = parseGraph(draft);
        // Open at the fitted view straight away (the pane is the window minus the bars and side panels).
        setInitialViewport(fitViewport(graph, window.innerWidth - 510, window.innerHeight - 100));
        useDesigner.getState().load(flowId, graph);
        useDesigner.getState().setErrors(draft.errors ?? []);
        setFlow(flowBody);
        setLoaded(true);
        // Reference data for the panels comes second, so the draft is not queued behind it.
        void useResources.getState().load();
      })
      .catch((e: unknown) => {
        if (live) setLoadError(errorMessage(e));
      });
    return () => {
      live = false;
    };
  }, [flowId]);

  const save = useCallback(async (): Promise<void> => {
    // The canvas store is shared: only save while it still holds this flow, and take the graph now.
    if (readOnly || store().flowId !== flowId) return;
    const graph = store().graph();
    if (saving.current) await saving.current;
    if (store().flowId === flowId && graphKey(graph) === store().savedKey) {
      setSaveState("saved");
      return;
    }
    setSaveState("saving");
    const pending = api
      .put<DraftBody>(`/api/flows/${flowId}/draft/`, graph)
      .then((body) => {
        if (store().flowId !== flowId) return;
        store().markSaved(graph);
        store().setErrors(body.errors ?? []);
        setSaveState(graphKey(store().graph()) === graphKey(graph) ? "saved" : "unsaved");
      })
      .catch((e: unknown) => {
        setSaveState("error");
        const graphErrors = graphErrorsOf(e);
        if (graphErrors.length > 0) store().setErrors(graphErrors);
        setMessage({ kind: "error", text: `Could not save the draft: ${errorMessage(e)}` });
      })
      .finally(() => {
        saving.current = null;
      });
    saving.current = pending;
    await pending;
  }, [flowId, readOnly, store]);

  // Draft autosave: a quiet moment after the last edit.
  useEffect(() => {
    if (!loaded || revision === 0 || readOnly) return;
    setSaveState("unsaved");
    const timer = window.setTimeout(() => void save(), AUTOSAVE_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [revision, loaded, readOnly, save]);

  // Leaving the designer inside the app saves what the autosave timer had not sent yet.
  const saveRef = useRef(save);
  saveRef.current = save;
  useEffect(() => () => void saveRef.current(), []);

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent): void => {
      if (graphKey(store().graph()) !== store().savedKey && !readOnly) event.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [readOnly, store]);

  const deploy = async (): Promise<void> => {
    await save();
    const local = validateGraph(store().graph());
    try {
      const result = await api.post<{ version: number }>(`/api/flows/${flowId}/deploy/`, {});
      store().setErrors([]);
      setMessage({ kind: "success", text: `Deployed version ${result.version}.` });
      setFlow(await api.get<Flow>(`/api/flows/${flowId}/`));
    } catch (e) {
      const graphErrors = graphErrorsOf(e);
      store().setErrors(graphErrors.length > 0 ? graphErrors : local);
      setMessage({
        kind: "error",
        text: `Deploy refused: ${e instanceof ApiError ? e.message : errorMessage(e)} See the marked shapes.`,
      });
    }
  };

  const validate = async (): Promise<void> => {
    await save();
    try {
      await api.post(`/api/flows/${flowId}/validate/`, store().graph());
      store().setErrors([]);
      setMessage({ kind: "success", text: "The flow is valid." });
    } catch (e) {
      const graphErrors = graphErrorsOf(e);
      store().setErrors(graphErrors);
      setMessage({
        kind: "error",
        text: `${graphErrors.length || "Some"} problem(s) found. See the marked shapes.`,
      });
    }
  };

  const startRun = async (payload: string | null, variables: Record<string, string>): Promise<void> => {
    setShowRunDialog(false);
    try {
      const body: Record<string, unknown> = { variables };
      if (payload !== null) body.payload = payload;
      const run = await api.post<{ id: number }>(`/api/flows/${flowId}/runs/`, body);
      store().setOverlay(run.id, {});
      setRunId(run.id);
      setMessage({ kind: "info", text: `Run #${run.id} queued.` });
    } catch (e) {
      setMessage({ kind: "error", text: `Could not start a run: ${errorMessage(e)}` });
    }
  };

  const addAtCentre = useCallback(
    (type: ShapeType): void => {
      const pane = document.querySelector(".canvas")?.getBoundingClientRect();
      const point = pane
        ? { x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 }
        : { x: 400, y: 300 };
      const position = screenToFlowPosition(point);
      const offset = (store().nodes.length % 5) * 20;
      store().addShape(type, {
        x: position.x - SHAPE_WIDTH / 2 + offset,
        y: position.y - SHAPE_HEIGHT / 2 + offset,
      });
    },
    [screenToFlowPosition, store],
  );

  const onDrop = (event: DragEvent): void => {
    event.preventDefault();
    if (readOnly) return;
    const type = event.dataTransfer.getData(DRAG_TYPE) || event.dataTransfer.getData("text/plain");
    if (!isShapeType(type)) return;
    const position = screenToFlowPosition({ x: event.clientX, y: event.clientY });
    store().addShape(type, { x: position.x - SHAPE_WIDTH / 2, y: position.y - SHAPE_HEIGHT / 2 });
  };

  // Keyboard shortcuts.
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (mod && key === "s") {
        event.preventDefault();
        void save();
        return;
      }
      if (isTyping(event.target) || readOnly) return;
      if (event.key === "Delete" || event.key === "Backspace") {
        event.preventDefault();
        store().deleteSelection();
      } else if (mod && key === "z" && !event.shiftKey) {
        event.preventDefault();
        store().undo();
      } else if (mod && (key === "y" || (key === "z" && event.shiftKey))) {
        event.preventDefault();
        store().redo();
      } else if (mod && key === "c") {
        store().copySelection();
      } else if (mod && key === "v") {
        event.preventDefault();
        store().paste();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [readOnly, save, store]);

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

  const selectedNodes = useMemo(() => nodes.filter((n) => n.selected), [nodes]);
  const selectedEdges = useMemo(() => edges.filter((e) => e.selected), [edges]);
  const shapeIds = useMemo(() => new Set(nodes.map((n) => n.id)), [nodes]);
  const graphLevelErrors = useMemo(() => {
    const unplaced = errors.filter((e) => e.shape === null || !shapeIds.has(e.shape));
    return unplaced.length > 0 ? unplaced : errors;
  }, [errors, shapeIds]);

  if (loadError) {
    return (
      <div className="page">
        <Notice kind="error">{loadError}</Notice>
        <Link to="/flows">Back to the flows</Link>
      </div>
    );
  }
  if (!flow) return <Loading />;

  const one = selectedNodes.length === 1 ? selectedNodes[0] : undefined;
  const history = store().history;
  return (
    <div className="designer">
      <div className="toolbar" role="toolbar" aria-label="Designer">
        <Link to="/flows" className="back" aria-label="Back to flows">
          ←
        </Link>
        <h1 className="flow-title">{flow.name}</h1>
        <span className={`save-state save-${saveState}`} data-testid="save-state">
          {readOnly
            ? "read only"
            : saveState === "saved"
              ? "Draft saved"
              : saveState === "saving"
                ? "Saving…"
                : saveState === "unsaved"
                  ? "Unsaved changes"
                  : "Not saved"}
        </span>
        <span className="hint">
          {flow.deployed_version ? `deployed v${flow.deployed_version}` : "not deployed"}
        </span>
        <div className="spacer" />
        {!readOnly ? (
          <>
            <button
              type="button"
              onClick={() => store().undo()}
              disabled={history.past.length === 0}
              title="Undo (Ctrl+Z)"
            >
              Undo
            </button>
            <button
              type="button"
              onClick={() => store().redo()}
              disabled={history.future.length === 0}
              title="Redo (Ctrl+Y)"
            >
              Redo
            </button>
            <button
              type="button"
              onClick={() => {
                store().layout();
                window.requestAnimationFrame(() => void fitView({ padding: 0.2 }));
              }}
              title="Arrange the shapes automatically"
            >
              Auto-layout
            </button>
          </>
        ) : null}
        <button type="button" onClick={() => void fitView({ padding: 0.2 })}>
          Fit
        </button>
        <button type="button" onClick={() => void validate()}>
          Validate
        </button>
        <button type="button" onClick={() => setShowVersions((v) => !v)} aria-pressed={showVersions}>
          Versions
        </button>
        {!readOnly ? (
          <>
            <button type="button" className="primary" onClick={() => void deploy()}>
              Deploy
            </button>
            <button
              type="button"
              onClick={() => void startRun(null, {})}
              disabled={!flow.deployed_version}
              title={flow.deployed_version ? "Run the deployed version" : "Deploy first"}
            >
              Run now
            </button>
            <button type="button" onClick={() => setShowRunDialog(true)} disabled={!flow.deployed_version}>
              Run with payload…
            </button>
          </>
        ) : null}
      </div>
      {message ? (
        <Notice kind={message.kind} onClose={() => setMessage(null)}>
          {message.text}
        </Notice>
      ) : null}
      {notice ? (
        <Notice kind="info" onClose={() => store().setNotice(null)}>
          {notice}
        </Notice>
      ) : null}
      {lookups.error ? (
        <Notice kind="error">Could not load connectors and scripts: {lookups.error}</Notice>
      ) : null}
      <div className="designer-body">
        <Palette onAdd={addAtCentre} readOnly={readOnly} />
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
          >
            <Background gap={16} />
            <Controls showInteractive={false} />
            <MiniMap pannable zoomable nodeColor={minimapColor} />
          </ReactFlow>
          {nodes.length === 0 && loaded ? (
            <div className="canvas-empty">
              <strong>An empty flow.</strong> Drag a <em>Trigger</em> from the palette to start, then add
              shapes and connect them.
            </div>
          ) : null}
        </div>
        <aside className="inspector" aria-label="Settings">
          {one ? (
            <ShapePanel
              shape={one.data.shape}
              errors={one.data.errors}
              lookups={lookups}
              readOnly={readOnly}
            />
          ) : selectedEdges.length === 1 && selectedNodes.length === 0 && selectedEdges[0] ? (
            <ConnectionPanel edgeId={selectedEdges[0].id} readOnly={readOnly} />
          ) : selectedNodes.length > 1 ? (
            <div className="settings">
              <div className="panel-title">{selectedNodes.length} shapes selected</div>
              <p className="hint">Delete removes them; Ctrl+C / Ctrl+V copies them.</p>
            </div>
          ) : (
            <FlowPanel flow={flow} onFlow={setFlow} errors={graphLevelErrors} readOnly={readOnly} />
          )}
        </aside>
        {showVersions ? (
          <VersionsPanel
            flowId={flowId}
            readOnly={readOnly}
            onClose={() => setShowVersions(false)}
            onRestored={(body, number) => {
              const graph = parseGraph(body);
              store().load(flowId, graph);
              store().setErrors(body.errors ?? []);
              setShowVersions(false);
              setMessage({ kind: "success", text: `Version ${number} restored as the draft.` });
            }}
          />
        ) : null}
      </div>
      {runId !== null ? (
        <RunDrawer
          runId={runId}
          onClose={() => {
            setRunId(null);
            store().setOverlay(null, {});
          }}
        />
      ) : null}
      {showRunDialog ? (
        <RunDialog onClose={() => setShowRunDialog(false)} onRun={(p, v) => void startRun(p, v)} />
      ) : null}
    </div>
  );
}

export function DesignerPage(): ReactNode {
  const { flowId } = useParams();
  const id = Number(flowId);
  if (!Number.isInteger(id) || id <= 0) return <Notice kind="error">That is not a flow id.</Notice>;
  return (
    <ReactFlowProvider>
      <Designer key={id} flowId={id} />
    </ReactFlowProvider>
  );
}
