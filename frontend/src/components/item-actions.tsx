/**
 * Duplicate and delete for the flows, scripts and connectors lists. A delete asks first; one the server
 * refuses because flows use the item (409) hands the flows to the page, which lists them with links.
 */
import { useState } from "react";
import type { ReactNode } from "react";
import { Link } from "react-router";
import { api, ApiError, errorMessage } from "../api/client";
import type { FlowUse } from "../api/types";
import { Notice } from "./ui";

export interface Refusal {
  detail: string;
  flows: FlowUse[];
}

/** The flows named by a 409 "used by" answer (its error items carry `flow`, `flow_name`, `versions`). */
export function usersOf(error: ApiError): FlowUse[] {
  return error.errors
    .filter((item) => typeof item.flow === "number")
    .map((item) => ({
      id: item.flow as number,
      name: String(item.flow_name ?? item.flow),
      versions: Array.isArray(item.versions) ? item.versions.map(String) : [],
    }));
}

export function ItemActions<T>(props: {
  /** "flows", "scripts" or "connectors": the API collection. */
  collection: string;
  id: number;
  name: string;
  onDuplicated: (copy: T) => void;
  onDeleted: () => void;
  onRefused: (refusal: Refusal) => void;
  onError: (message: string) => void;
}): ReactNode {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const url = `/api/${props.collection}/${props.id}/`;

  const duplicate = async (): Promise<void> => {
    setBusy(true);
    try {
      props.onDuplicated(await api.post<T>(`${url}duplicate/`, {}));
    } catch (e) {
      props.onError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (): Promise<void> => {
    setBusy(true);
    setConfirming(false);
    try {
      await api.delete(url);
      props.onDeleted();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409)
        props.onRefused({ detail: e.message, flows: usersOf(e) });
      else props.onError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  if (confirming) {
    return (
      <span className="list-actions" role="group" aria-label={`Delete ${props.name}?`}>
        <span className="hint">Delete “{props.name}”?</span>
        <button type="button" className="small danger" disabled={busy} onClick={() => void remove()}>
          Yes, delete
        </button>
        <button type="button" className="small" onClick={() => setConfirming(false)}>
          Keep
        </button>
      </span>
    );
  }
  return (
    <span className="list-actions">
      <button
        type="button"
        className="small"
        disabled={busy}
        aria-label={`Duplicate ${props.name}`}
        onClick={() => void duplicate()}
      >
        Duplicate
      </button>
      <button
        type="button"
        className="small"
        disabled={busy}
        aria-label={`Delete ${props.name}`}
        onClick={() => setConfirming(true)}
      >
        Delete
      </button>
    </span>
  );
}

/** The page-level notice of a refused delete: why, and every flow that uses the item (links). */
export function RefusalNotice(props: { refusal: Refusal | null; onClose: () => void }): ReactNode {
  if (!props.refusal) return null;
  return (
    <Notice kind="error" onClose={props.onClose}>
      <div data-testid="used-by-refusal">
        {props.refusal.detail}
        {props.refusal.flows.length > 0 ? (
          <ul className="used-by-list">
            {props.refusal.flows.map((flow) => (
              <li key={flow.id}>
                <Link to={`/flows/${flow.id}`}>{flow.name}</Link>{" "}
                <span className="hint">({flow.versions.join(", ")})</span>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </Notice>
  );
}
