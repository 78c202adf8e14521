/** Failure alert API: notification channels, a flow's alert settings, delivery records. */
import { api } from "./client";

export type ChannelKind = "email" | "webhook" | "apprise";
export type AlertOutcome = "failed" | "partial_success" | "retries_exhausted";

export interface NotificationChannel {
  id: number;
  name: string;
  kind: ChannelKind;
  enabled: boolean;
  config: { to?: string[]; url?: string; headers?: Record<string, string> };
  has_secret: boolean;
}

export interface FlowAlertSettings {
  channels: number[];
  outcomes: AlertOutcome[];
  interval_minutes: number;
  error_flow: number | null;
  last_alert_at?: string | null;
  suppressed?: number;
}

export interface AlertDelivery {
  id: number;
  channel: number;
  channel_name: string;
  flow: number;
  run: number | null;
  outcome: AlertOutcome;
  status: "pending" | "sent" | "failed";
  attempts: number;
  last_error: string;
  created_at: string;
  sent_at: string | null;
}

export const ALERT_OUTCOMES: { value: AlertOutcome; label: string }[] = [
  { value: "failed", label: "Failed" },
  { value: "partial_success", label: "Partial success" },
  { value: "retries_exhausted", label: "Retries exhausted" },
];

export const listChannels = (): Promise<NotificationChannel[]> =>
  api.get<NotificationChannel[]>("/api/notification-channels/");

export const getFlowAlerts = (flowId: number): Promise<FlowAlertSettings> =>
  api.get<FlowAlertSettings>(`/api/flows/${flowId}/alerts/`);

export const saveFlowAlerts = (flowId: number, settings: FlowAlertSettings): Promise<FlowAlertSettings> =>
  api.put<FlowAlertSettings>(`/api/flows/${flowId}/alerts/`, settings);
