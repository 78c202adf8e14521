"""Everything Patchbay sends out over HTTP. The connector shape and the designer's connection test both use
it, so a test request is exactly what a flow sends; designer and runs depend on this package, not on each
other.

Public names (import them from their modules):

- `connectors.client`: `build_client(timeout=)` (the one httpx client factory), `use_transport(transport)`
  (tests: route every client through an `httpx.MockTransport`), `send(client, request, max_bytes=, auth=,
  trusted=, redirects=, redactor=)` (follows redirects origin-aware, bounds size and time, maps failures to
  `ConnectorError`), `HttpResponse`.
- `connectors.auth`: `connector_auth(connector, timeout=, max_bytes=)` -> a `ConnectorAuth` (`httpx.Auth`:
  none, basic, bearer, API key in header / query, OAuth2 client credentials with refresh on 401),
  `trusted_origins(connector)`, `connector_redactor(connector)`, `invalidate_token`, `clear_token_cache`.
- `connectors.requests`: `build_request(connector=, endpoint=, render=, payload=)` -> `RequestSpec`
  (placeholders percent-encoded, path bound to the connector's origin, literal queries merged).
- `connectors.pagination`: `Pager(endpoint.pagination, trusted=)` (next-page URLs on another origin refused).
- `connectors.redaction`: `Redactor` (every form of every known secret -> `***`), `is_credential_name`.
- `connectors.origins`: `TrustedOrigins` (the base URL's origin plus `Connector.allowed_hosts`).
- `connectors.errors`: `ConnectorError` (`retryable`), `RequestRefused`, `PaginationError`.
- `connectors.logging`: `SecretFilter`, the logging filter that keeps secrets out of httpx / httpcore logs.
"""
