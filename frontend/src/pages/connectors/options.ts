/** The choices the connector and endpoint forms offer. */
import type { AuthType, Connector } from "../../api/types";
import type { EndpointDraft } from "../../api/connectors";

export const AUTH_TYPES: { value: AuthType; label: string }[] = [
  { value: "none", label: "None" },
  { value: "basic", label: "Basic (user name + password)" },
  { value: "bearer", label: "Bearer token" },
  { value: "api_key_header", label: "API key in a header" },
  { value: "api_key_query", label: "API key in the query" },
  { value: "oauth2_client_credentials", label: "OAuth2 client credentials" },
];

/** The write-only secret each auth type needs. */
export const SECRET_OF: Record<
  AuthType,
  { name: "password" | "token" | "api_key" | "client_secret"; label: string } | null
> = {
  none: null,
  basic: { name: "password", label: "Password" },
  bearer: { name: "token", label: "Token" },
  api_key_header: { name: "api_key", label: "API key" },
  api_key_query: { name: "api_key", label: "API key" },
  oauth2_client_credentials: { name: "client_secret", label: "Client secret" },
};

export const EMPTY_CONNECTOR: Omit<Connector, "id"> = {
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

export const PAGINATION_STYLES = [
  "none",
  "page_number",
  "offset_limit",
  "next_url",
  "link_header",
  "cursor",
] as const;
export const PAGINATION_FIELDS: Record<string, string[]> = {
  none: [],
  page_number: ["page_param", "size_param", "page_size", "start", "items_path"],
  offset_limit: ["offset_param", "limit_param", "limit", "start", "items_path"],
  next_url: ["next_path", "items_path"],
  link_header: ["items_path"],
  cursor: ["cursor_param", "cursor_path", "items_path"],
};
export const NUMERIC_OPTIONS = new Set(["page_size", "limit", "start", "max_pages"]);
