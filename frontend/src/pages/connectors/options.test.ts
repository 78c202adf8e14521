import { describe, expect, it } from "vitest";
import { AUTH_TYPES, NUMERIC_OPTIONS, paginationFields, PAGINATION_STYLES, secretOf } from "./options";

describe("connector form choices from the server's lists", () => {
  it("offers every auth type with the one secret it needs", () => {
    expect(AUTH_TYPES.map((t) => t.value)).toEqual([
      "none",
      "basic",
      "bearer",
      "api_key_header",
      "api_key_query",
      "oauth2_client_credentials",
    ]);
    expect(secretOf("none")).toBeNull();
    expect(secretOf("basic")).toEqual({ name: "password", label: "Password" });
    expect(secretOf("api_key_query")).toEqual({ name: "api_key", label: "API key" });
    expect(secretOf("oauth2_client_credentials")).toEqual({ name: "client_secret", label: "Client secret" });
  });

  it("lists each pagination style's options, required ones first", () => {
    expect(PAGINATION_STYLES[0]).toBe("none");
    expect(paginationFields("none")).toEqual([]);
    expect(paginationFields("offset_limit")).toEqual([
      "offset_param",
      "limit_param",
      "limit",
      "start",
      "items_path",
    ]);
    expect(paginationFields("no_such_style")).toEqual([]);
    expect([...NUMERIC_OPTIONS].sort()).toEqual(["limit", "max_pages", "page_size", "start"]);
  });
});
