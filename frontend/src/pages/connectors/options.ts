/**
 * The choices the connector and endpoint forms offer. The values come from the server (`api/server-lists.ts`,
 * generated); only how a secret is labelled is the browser's.
 */
import type { ConnectorFields, EndpointDraft } from "../../api/connectors";
import {
  AUTH_SECRET,
  AUTH_TYPES as SERVER_AUTH_TYPES,
  BODY_FORMATS as SERVER_BODY_FORMATS,
  HTTP_METHODS,
  PAGINATION_NUMERIC_OPTIONS,
  PAGINATION_OPTIONS,
  PAGINATION_STYLES as SERVER_PAGINATION_STYLES,
  SECRET_FIELDS,
} from "../../api/server-lists";
import type { AuthType, Endpoint } from "../../api/types";

export const AUTH_TYPES: { value: AuthType; label: string }[] = SERVER_AUTH_TYPES.map((t) => ({ ...t }));

type SecretName = (typeof SECRET_FIELDS)[number];
const SECRET_LABELS: Record<SecretName, string> = {
  password: "Password",
  token: "Token",
  api_key: "API key",
  client_secret: "Client secret",
};

/** The write-only secret each auth type needs. */
export function secretOf(authType: AuthType): { name: SecretName; label: string } | null {
  const name = AUTH_SECRET[authType];
  return name === null ? null : { name, label: SECRET_LABELS[name] };
}

export const EMPTY_CONNECTOR: ConnectorFields = {
  name: "",
  description: "",
  base_url: "https://",
  auth_type: "none",
  username: "",
  api_key_name: "",
  token_url: "",
  client_id: "",
  scope: "",
  default_headers: {},
  timeout: 30,
  allowed_hosts: [],
  cross_origin_redirects: "drop_credentials",
};

export function emptyEndpoint(connector: number): EndpointDraft {
  return {
    connector,
    name: "",
    description: "",
    method: "GET",
    path: "/",
    query: {},
    headers: {},
    body_template: "",
    body_format: "json",
    pagination: {},
    pre_request_script: null,
  };
}

export const METHODS: { value: Endpoint["method"]; label: string }[] = HTTP_METHODS.map((m) => ({
  value: m,
  label: m,
}));
export const BODY_FORMATS: { value: Endpoint["body_format"]; label: string }[] = SERVER_BODY_FORMATS.map(
  (f) => ({ ...f }),
);
export const PAGINATION_STYLES: readonly string[] = SERVER_PAGINATION_STYLES;

/** The options a pagination style takes (required first), as the form lists them. */
export function paginationFields(style: string): string[] {
  const options = (
    PAGINATION_OPTIONS as Record<string, { required: readonly string[]; optional: readonly string[] }>
  )[style];
  return options ? [...options.required, ...options.optional] : [];
}

export const NUMERIC_OPTIONS: ReadonlySet<string> = new Set([...PAGINATION_NUMERIC_OPTIONS]);
