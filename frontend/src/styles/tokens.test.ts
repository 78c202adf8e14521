/// <reference types="node" />
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = join(import.meta.dirname, "..");
const GENERATED = new Set(["api/schema.d.ts", "api/server-lists.ts"]);

/** Every source file of the app (not the tests, not the generated API files), by path relative to src/. */
function sources(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const name = relative(SRC, path);
      if (entry.isDirectory()) walk(path);
      else if (/\.(css|tsx?)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) && !GENERATED.has(name)) {
        files.set(name, readFileSync(path, "utf8"));
      }
    }
  };
  walk(SRC);
  return files;
}

const CSS_COLOUR = /#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?)\(/;
const TS_COLOUR = /["'`]#[0-9a-fA-F]{3,8}["'`]|["'`](?:rgba?|hsla?)\(/;
const TOKENS = readFileSync(join(SRC, "styles", "tokens.css"), "utf8");
const DARK_START = TOKENS.indexOf(':root[data-theme="dark"]');
const LIGHT = TOKENS.slice(0, DARK_START);
const DARK = TOKENS.slice(DARK_START);
const definedIn = (text: string): Set<string> =>
  new Set([...text.matchAll(/(--[\w-]+):/g)].map((m) => m[1] ?? ""));

describe("colour tokens", () => {
  it("writes colours only in styles/tokens.css", () => {
    const files = sources();
    expect(files.size).toBeGreaterThan(40);
    const offenders = [...files]
      .filter(([name]) => name !== "styles/tokens.css")
      .filter(([name, text]) => (name.endsWith(".css") ? CSS_COLOUR : TS_COLOUR).test(text))
      .map(([name]) => name);
    expect(offenders).toEqual([]);
  });

  it("defines every token that a style or a shape uses", () => {
    const defined = definedIn(LIGHT);
    const used = new Set(
      [...sources().values()].flatMap((t) => [...t.matchAll(/var\((--[\w-]+)\)/g)].map((m) => m[1])),
    );
    expect(DARK_START).toBeGreaterThan(0);
    expect([...used].filter((name) => name !== undefined && !defined.has(name))).toEqual([]);
  });

  it("gives the dark theme its own surfaces, text and lines", () => {
    const dark = definedIn(DARK);
    for (const name of [
      "--ink",
      "--muted",
      "--bg",
      "--panel",
      "--line",
      "--accent",
      "--danger",
      "--ok",
      "--hover",
    ]) {
      expect(dark.has(name), name).toBe(true);
    }
    expect(DARK).toContain("color-scheme: dark");
  });
});
