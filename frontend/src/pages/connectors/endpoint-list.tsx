/** A connector's endpoints: the list, adding, editing and deleting one. */
import { useEffect, useState } from "react";
import type { Dispatch, ReactNode, SetStateAction } from "react";
import { ApiError, errorMessage } from "../../api/client";
import { deleteEndpoint } from "../../api/connectors";
import type { EndpointDraft } from "../../api/connectors";
import type { Connector, Endpoint } from "../../api/types";
import { RefusalNotice, usersOf } from "../../components/item-actions";
import type { Refusal } from "../../components/item-actions";
import { Empty, Loading } from "../../components/ui";
import { EndpointForm } from "./endpoint-form";
import { emptyEndpoint } from "./options";

export function EndpointList({
  connector,
  endpoints,
  setEndpoints,
  onError,
  readOnly,
}: {
  connector: Connector;
  endpoints: Endpoint[] | null;
  setEndpoints: Dispatch<SetStateAction<Endpoint[] | null>>;
  onError: (message: string) => void;
  readOnly: boolean;
}): ReactNode {
  const [editing, setEditing] = useState<EndpointDraft | null>(null);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  useEffect(() => {
    setEditing(null);
    setRefusal(null);
  }, [connector]);

  const remove = async (endpoint: Endpoint): Promise<void> => {
    if (!window.confirm(`Delete the endpoint ${endpoint.name}?`)) return;
    setRefusal(null);
    try {
      await deleteEndpoint(endpoint.id);
      setEndpoints((list) => (list ?? []).filter((e) => e.id !== endpoint.id));
    } catch (e) {
      // Refused because flows use it (409): name them with links, as the flows, scripts and connectors lists do.
      if (e instanceof ApiError && e.status === 409) setRefusal({ detail: e.message, flows: usersOf(e) });
      else onError(errorMessage(e));
    }
  };

  return (
    <section>
      <div className="page-head">
        <h2>Endpoints</h2>
        {!readOnly && !editing ? (
          <button type="button" onClick={() => setEditing(emptyEndpoint(connector.id))}>
            Add endpoint
          </button>
        ) : null}
      </div>
      <RefusalNotice refusal={refusal} onClose={() => setRefusal(null)} />
      {editing ? (
        <EndpointForm
          key={editing.id ?? "new"}
          value={editing}
          readOnly={readOnly}
          onCancel={() => setEditing(null)}
          onSaved={(endpoint) => {
            setEndpoints((list) => {
              const rest = (list ?? []).filter((e) => e.id !== endpoint.id);
              return [...rest, endpoint].sort((a, b) => a.name.localeCompare(b.name));
            });
            setEditing(null);
          }}
        />
      ) : null}
      {endpoints === null ? (
        <Loading />
      ) : endpoints.length === 0 ? (
        <Empty title="No endpoints yet">
          An endpoint is one operation of this connector, e.g. GET /orders/[[variables.id]].
        </Empty>
      ) : (
        <table className="table">
          <tbody>
            {endpoints.map((e) => (
              <tr key={e.id}>
                <td>
                  <strong>{e.name}</strong>
                </td>
                <td>
                  <code>
                    {e.method} {e.path}
                  </code>
                </td>
                <td>
                  {e.pagination.style && e.pagination.style !== "none" ? String(e.pagination.style) : ""}
                </td>
                <td className="actions">
                  <button type="button" className="small" onClick={() => setEditing(e)}>
                    {readOnly ? "View" : "Edit"}
                  </button>
                  {!readOnly ? (
                    <button type="button" className="small danger" onClick={() => void remove(e)}>
                      Delete
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
