/** Notification channels (where failure alerts go) and the latest alert deliveries. */
import { useEffect, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { Link } from "react-router";
import { api, errorMessage, itemsOf } from "../api/client";
import type { Page } from "../api/client";
import type { AlertDelivery, ChannelKind, NotificationChannel } from "../api/notifications";
import { listChannels } from "../api/notifications";
import { Empty, formatTime, Loading, Notice } from "../components/ui";
import { useCanWrite } from "../session";

const KIND_LABELS: Record<ChannelKind, string> = {
  email: "Email",
  webhook: "Webhook (JSON POST)",
  apprise: "Apprise URLs",
};

function describe(channel: NotificationChannel): string {
  if (channel.kind === "email") return (channel.config.to ?? []).join(", ");
  if (channel.kind === "webhook")
    return `${channel.config.url ?? ""}${channel.has_secret ? " · signed" : ""}`;
  return channel.has_secret ? "URLs stored" : "no URLs";
}

export function NotificationsPage(): ReactNode {
  const canWrite = useCanWrite();
  const [channels, setChannels] = useState<NotificationChannel[] | null>(null);
  const [deliveries, setDeliveries] = useState<AlertDelivery[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<ChannelKind>("email");
  const [target, setTarget] = useState("");
  const [secret, setSecret] = useState("");

  const load = (): void => {
    listChannels()
      .then(setChannels)
      .catch((e: unknown) => {
        setError(errorMessage(e));
        setChannels([]);
      });
    api
      .get<Page<AlertDelivery> | AlertDelivery[]>("/api/alert-deliveries/?limit=20")
      .then((body) => setDeliveries(itemsOf(body)))
      .catch(() => setDeliveries([]));
  };
  useEffect(load, []);

  const create = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const config =
      kind === "email"
        ? { to: target.split(/[,\s]+/).filter(Boolean) }
        : kind === "webhook"
          ? { url: target.trim(), headers: {} }
          : {};
    const body: Record<string, unknown> = { name: name.trim(), kind, config, enabled: true };
    if (kind === "apprise") body.secret = target;
    else if (kind === "webhook" && secret) body.secret = secret;
    try {
      await api.post("/api/notification-channels/", body);
      setName("");
      setTarget("");
      setSecret("");
      setError(null);
      load();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const setEnabled = async (channel: NotificationChannel, enabled: boolean): Promise<void> => {
    try {
      await api.patch(`/api/notification-channels/${channel.id}/`, { enabled });
      load();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  const remove = async (channel: NotificationChannel): Promise<void> => {
    if (!window.confirm(`Delete the channel '${channel.name}'?`)) return;
    try {
      await api.delete(`/api/notification-channels/${channel.id}/`);
      load();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1>Alert channels</h1>
      </div>
      <p className="hint">
        Where failure alerts go. Each flow chooses its channels, outcomes and interval in its flow settings.
      </p>
      {error ? (
        <Notice kind="error" onClose={() => setError(null)}>
          {error}
        </Notice>
      ) : null}
      {canWrite ? (
        <form className="inline-form channel-form" onSubmit={(e) => void create(e)}>
          <input
            aria-label="Channel name"
            placeholder="Channel name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <select
            aria-label="Channel kind"
            value={kind}
            onChange={(e) => setKind(e.target.value as ChannelKind)}
          >
            {(Object.keys(KIND_LABELS) as ChannelKind[]).map((k) => (
              <option key={k} value={k}>
                {KIND_LABELS[k]}
              </option>
            ))}
          </select>
          <input
            aria-label="Channel target"
            className="wide"
            placeholder={
              kind === "email"
                ? "ops@example.com, …"
                : kind === "webhook"
                  ? "https://hooks.example.com/…"
                  : "mailto://…, json://…"
            }
            value={target}
            onChange={(e) => setTarget(e.target.value)}
          />
          {kind === "webhook" ? (
            <input
              aria-label="Signing secret"
              type="password"
              placeholder="Signing secret (optional)"
              value={secret}
              onChange={(e) => setSecret(e.target.value)}
            />
          ) : null}
          <button type="submit" className="primary" disabled={!name.trim() || !target.trim()}>
            Add channel
          </button>
        </form>
      ) : null}
      {channels === null ? (
        <Loading />
      ) : channels.length === 0 ? (
        <Empty title="No channels">
          Add an email address, a webhook or Apprise URLs to receive failure alerts.
        </Empty>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Kind</th>
              <th>Sends to</th>
              <th>Enabled</th>
              {canWrite ? <th /> : null}
            </tr>
          </thead>
          <tbody>
            {channels.map((channel) => (
              <tr key={channel.id} data-channel={channel.name}>
                <td className="strong">{channel.name}</td>
                <td>{KIND_LABELS[channel.kind]}</td>
                <td className="mono">{describe(channel)}</td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Channel ${channel.name} enabled`}
                    checked={channel.enabled}
                    disabled={!canWrite}
                    onChange={(e) => void setEnabled(channel, e.target.checked)}
                  />
                </td>
                {canWrite ? (
                  <td>
                    <button type="button" className="link-button" onClick={() => void remove(channel)}>
                      Delete
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Latest alerts</h2>
      {deliveries.length === 0 ? (
        <p className="hint">No alert sent yet.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>When</th>
              <th>Channel</th>
              <th>Run</th>
              <th>Outcome</th>
              <th>Delivery</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((delivery) => (
              <tr key={delivery.id}>
                <td>{formatTime(delivery.created_at)}</td>
                <td>{delivery.channel_name}</td>
                <td>{delivery.run ? <Link to={`/runs/${delivery.run}`}>#{delivery.run}</Link> : "—"}</td>
                <td>{delivery.outcome.replace("_", " ")}</td>
                <td title={delivery.last_error}>
                  {delivery.status} ({delivery.attempts} attempt{delivery.attempts === 1 ? "" : "s"})
                  {delivery.last_error ? <div className="hint">{delivery.last_error}</div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
