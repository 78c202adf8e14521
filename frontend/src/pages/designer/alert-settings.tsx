/** A flow's failure alerts in its flow settings: channels, outcomes, interval and error flow. */
import { useEffect, useState } from "react";
import type { ReactNode } from "react";
import { errorMessage, getAll } from "../../api/client";
import type { AlertOutcome, FlowAlertSettings, NotificationChannel } from "../../api/notifications";
import { ALERT_OUTCOMES, getFlowAlerts, listChannels, saveFlowAlerts } from "../../api/notifications";
import type { Flow } from "../../api/types";

export function AlertSettings({ flowId, readOnly }: { flowId: number; readOnly: boolean }): ReactNode {
  const [settings, setSettings] = useState<FlowAlertSettings | null>(null);
  const [channels, setChannels] = useState<NotificationChannel[]>([]);
  const [flows, setFlows] = useState<Flow[]>([]);
  const [message, setMessage] = useState<string | null>(null);

  useEffect(() => {
    getFlowAlerts(flowId)
      .then(setSettings)
      .catch((e: unknown) => setMessage(errorMessage(e)));
    listChannels()
      .then(setChannels)
      .catch(() => setChannels([]));
    getAll<Flow>("/api/flows/")
      .then((all) => setFlows(all.filter((f) => f.id !== flowId)))
      .catch(() => setFlows([]));
  }, [flowId]);

  if (settings === null) return message ? <div className="hint">{message}</div> : null;
  const toggleChannel = (id: number, on: boolean): void =>
    setSettings({
      ...settings,
      channels: on ? [...settings.channels, id] : settings.channels.filter((c) => c !== id),
    });
  const toggleOutcome = (outcome: AlertOutcome, on: boolean): void =>
    setSettings({
      ...settings,
      outcomes: on ? [...settings.outcomes, outcome] : settings.outcomes.filter((o) => o !== outcome),
    });
  const save = async (): Promise<void> => {
    try {
      const { channels: c, outcomes, interval_minutes, error_flow } = settings;
      setSettings(await saveFlowAlerts(flowId, { channels: c, outcomes, interval_minutes, error_flow }));
      setMessage("Alert settings saved.");
    } catch (e) {
      setMessage(errorMessage(e));
    }
  };

  return (
    <fieldset className="alert-settings" data-testid="alert-settings">
      <legend>Failure alerts</legend>
      <div className="field">
        <label>Channels</label>
        {channels.length === 0 ? <div className="hint">No channels yet: add them under Alerts.</div> : null}
        {channels.map((channel) => (
          <label key={channel.id} className="check-row">
            <input
              type="checkbox"
              checked={settings.channels.includes(channel.id)}
              disabled={readOnly}
              onChange={(e) => toggleChannel(channel.id, e.target.checked)}
            />
            {channel.name}
          </label>
        ))}
      </div>
      <div className="field">
        <label>Alert on</label>
        {ALERT_OUTCOMES.map((outcome) => (
          <label key={outcome.value} className="check-row">
            <input
              type="checkbox"
              checked={settings.outcomes.includes(outcome.value)}
              disabled={readOnly}
              onChange={(e) => toggleOutcome(outcome.value, e.target.checked)}
            />
            {outcome.label}
          </label>
        ))}
      </div>
      <div className="field">
        <label htmlFor="alert-interval">At most one alert every (minutes)</label>
        <input
          id="alert-interval"
          type="number"
          min={0}
          max={10080}
          value={settings.interval_minutes}
          readOnly={readOnly}
          onChange={(e) => setSettings({ ...settings, interval_minutes: Number(e.target.value) })}
        />
        <div className="hint">
          0 sends every alert.
          {settings.suppressed ? ` ${settings.suppressed} held back since the last one.` : ""}
        </div>
      </div>
      <div className="field">
        <label htmlFor="alert-error-flow">Error flow</label>
        <select
          id="alert-error-flow"
          value={settings.error_flow ?? ""}
          disabled={readOnly}
          onChange={(e) =>
            setSettings({ ...settings, error_flow: e.target.value ? Number(e.target.value) : null })
          }
        >
          <option value="">None</option>
          {flows.map((f) => (
            <option key={f.id} value={f.id}>
              {f.name}
            </option>
          ))}
        </select>
        <div className="hint">Started with a JSON payload describing the failed run.</div>
      </div>
      {!readOnly ? (
        <button type="button" onClick={() => void save()}>
          Save alert settings
        </button>
      ) : null}
      {message ? <div className="hint">{message}</div> : null}
    </fieldset>
  );
}
