/** Connectors and their endpoints: the list beside the selected connector's form (`pages/connectors/`). */
import { useCallback, useEffect, useState } from "react";
import type { ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { errorMessage } from "../api/client";
import { listConnectors } from "../api/connectors";
import type { Connector } from "../api/types";
import { Empty, Loading, Notice } from "../components/ui";
import { useCanWrite } from "../session";
import { ConnectorForm } from "./connectors/connector-form";

export function ConnectorsPage(): ReactNode {
  const { connectorId } = useParams();
  const navigate = useNavigate();
  const canWrite = useCanWrite();
  const [connectors, setConnectors] = useState<Connector[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [flash, setFlash] = useState<{ id: number; text: string } | null>(null);

  const load = useCallback(async () => {
    try {
      setConnectors(await listConnectors());
    } catch (e) {
      setError(errorMessage(e));
      setConnectors([]);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const isNew = connectorId === "new";
  const selected = connectors?.find((c) => String(c.id) === connectorId) ?? null;
  return (
    <div className="page connectors-page">
      <div className="page-head">
        <h1>Connectors</h1>
        {canWrite ? (
          <Link to="/connectors/new" className="button primary">
            New connector
          </Link>
        ) : null}
      </div>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div className="master-detail">
        <nav className="master" aria-label="Connectors">
          {connectors === null ? (
            <Loading />
          ) : connectors.length === 0 ? (
            <Empty title="No connectors yet">
              A connector holds the base URL and credentials of an external system.
            </Empty>
          ) : (
            <ul>
              {connectors.map((c) => (
                <li key={c.id}>
                  <Link
                    to={`/connectors/${c.id}`}
                    className={String(c.id) === connectorId ? "active" : undefined}
                  >
                    <strong>{c.name}</strong>
                    <span className="hint">{c.base_url}</span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </nav>
        <div className="detail">
          {isNew || selected ? (
            <ConnectorForm
              connector={isNew ? null : selected}
              saved={flash && flash.id === selected?.id && !isNew ? flash.text : null}
              onSaved={(c) => {
                setFlash({ id: c.id, text: "Connector saved." });
                void load();
                navigate(`/connectors/${c.id}`);
              }}
              onDeleted={() => {
                void load();
                navigate("/connectors");
              }}
            />
          ) : (
            <Empty title="Choose a connector">{canWrite ? "Or create a new one." : ""}</Empty>
          )}
        </div>
      </div>
    </div>
  );
}
