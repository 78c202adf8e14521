/**
 * Scripts list: every custom script with its kind and deployed version; create one from a template,
 * duplicate one, delete one (refused, with the flows, while flows use it).
 */
import { useEffect, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { Link, useNavigate } from "react-router";
import { api, errorMessage, getAll } from "../api/client";
import type { Script } from "../api/types";
import { ItemActions, RefusalNotice } from "../components/item-actions";
import type { Refusal } from "../components/item-actions";
import { Empty, formatTime, Loading, Notice } from "../components/ui";
import { useCanWrite } from "../session";

export function ScriptsPage(): ReactNode {
  const canWrite = useCanWrite();
  const navigate = useNavigate();
  const [scripts, setScripts] = useState<Script[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Script["kind"]>("general");
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const [info, setInfo] = useState<string | null>(null);

  useEffect(() => {
    getAll<Script>("/api/scripts/")
      .then(setScripts)
      .catch((e: unknown) => {
        setError(errorMessage(e));
        setScripts([]);
      });
  }, []);

  const create = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    try {
      // No code: the server starts the script from its template for the kind (GET /api/scripts/templates/).
      const script = await api.post<Script>("/api/scripts/", { name: name.trim(), kind, description: "" });
      navigate(`/scripts/${script.id}`);
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Custom scripts</h1>
        {canWrite ? (
          <form className="inline-form" onSubmit={(e) => void create(e)}>
            <input
              aria-label="New script name"
              placeholder="New script name"
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
            <select
              aria-label="Script kind"
              value={kind}
              onChange={(e) => setKind(e.target.value as Script["kind"])}
            >
              <option value="general">General script</option>
              <option value="response">Response script</option>
            </select>
            <button type="submit" className="primary" disabled={!name.trim()}>
              Create script
            </button>
          </form>
        ) : null}
      </div>
      {error ? (
        <Notice kind="error" onClose={() => setError(null)}>
          {error}
        </Notice>
      ) : null}
      <RefusalNotice refusal={refusal} onClose={() => setRefusal(null)} />
      {info ? (
        <Notice kind="success" onClose={() => setInfo(null)}>
          {info}
        </Notice>
      ) : null}
      {scripts === null ? (
        <Loading />
      ) : scripts.length === 0 ? (
        <Empty title="No scripts yet">
          Scripts transform payloads in script and map shapes, and judge connector responses.
        </Empty>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Deployed</th>
              <th>Updated</th>
              {canWrite ? <th /> : null}
            </tr>
          </thead>
          <tbody>
            {scripts.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to={`/scripts/${s.id}`} className="strong">
                    {s.name}
                  </Link>
                  {s.description ? <div className="hint">{s.description}</div> : null}
                </td>
                <td>{s.kind === "response" ? "Response script" : "General"}</td>
                <td>
                  {s.deployed_version ? `v${s.deployed_version}` : <span className="hint">not deployed</span>}
                </td>
                <td>{formatTime(s.updated_at)}</td>
                {canWrite ? (
                  <td className="actions">
                    <ItemActions<Script>
                      collection="scripts"
                      id={s.id}
                      name={s.name}
                      onError={setError}
                      onRefused={setRefusal}
                      onDeleted={() => {
                        setRefusal(null);
                        setInfo(`Deleted “${s.name}”.`);
                        setScripts((list) => (list ?? []).filter((item) => item.id !== s.id));
                      }}
                      onDuplicated={(copy) => {
                        setInfo(`Created “${copy.name}” from the draft of “${s.name}” (not deployed).`);
                        setScripts((list) =>
                          [...(list ?? []), copy].sort((a, b) => a.name.localeCompare(b.name)),
                        );
                      }}
                    />
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
