/** Sends one real request with the saved connector settings and shows what came back. */
import { useEffect, useState } from "react";
import type { ReactNode } from "react";
import { errorMessage } from "../../api/client";
import { testConnection } from "../../api/connectors";
import type { ConnectionTestResult } from "../../api/connectors";
import type { Connector, Endpoint } from "../../api/types";
import { Notice } from "../../components/ui";
import { KeyValueEditor, SelectField } from "../../shapes/fields";

export function ConnectionTest({
  connector,
  endpoints,
}: {
  connector: Connector;
  endpoints: Endpoint[];
}): ReactNode {
  const [endpoint, setEndpoint] = useState<number | null>(null);
  const [variables, setVariables] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<ConnectionTestResult | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    setEndpoint(null);
    setVariables({});
    setResult(null);
    setFailure(null);
  }, [connector]);

  const run = async (): Promise<void> => {
    setBusy(true);
    setFailure(null);
    setResult(null);
    try {
      setResult(await testConnection(connector.id, { endpoint, variables }));
    } catch (e) {
      setFailure(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card connection-test">
      <h3>Test connection</h3>
      <div className="hint">Sends one real request with the saved settings (save your changes first).</div>
      <SelectField<number>
        label="Request"
        value={endpoint}
        options={endpoints.map((e) => ({ value: e.id, label: `${e.name} (${e.method} ${e.path})` }))}
        emptyLabel={`GET ${connector.base_url}`}
        onChange={(value) => setEndpoint(value ?? null)}
      />
      {endpoint !== null ? (
        <KeyValueEditor
          label="Variables"
          value={variables}
          onChange={setVariables}
          valuePlaceholder="value"
        />
      ) : null}
      <div className="modal-actions">
        <button type="button" onClick={() => void run()} disabled={busy}>
          {busy ? "Testing…" : "Test connection"}
        </button>
      </div>
      {failure ? <Notice kind="error">{failure}</Notice> : null}
      {result ? (
        <div className="connection-test-result" data-testid="connection-test-result">
          <Notice kind={result.ok ? "success" : "error"}>
            {result.ok ? "Connected" : "Failed"}
            {" — "}
            {result.status !== null ? `HTTP ${result.status}` : "no response"}
            {` in ${result.duration_ms.toFixed(0)} ms`}
            {result.error ? `: ${result.error}` : ""}
          </Notice>
          {result.body_excerpt ? <pre className="payload">{result.body_excerpt}</pre> : null}
        </div>
      ) : null}
    </section>
  );
}
