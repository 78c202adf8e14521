import type { ComponentType } from "react";
import { SHAPE_TYPE_SCHEMAS } from "../api/server-lists";
import type { Connector, Endpoint, Flow, Script } from "../api/types";
import type { Problem } from "./rules";
import type { GraphError, SettingsByType, ShapeOf, ShapeType } from "./types";

/** What a panel and a summary may look things up in. */
export interface Lookups {
  connectors: Connector[];
  endpoints: Endpoint[];
  scripts: Script[];
  deployedScripts: Script[];
  flows: Flow[];
}

export interface PanelProps<T extends ShapeType> {
  shape: ShapeOf<T>;
  onChange: (settings: SettingsByType[T]) => void;
  errors: GraphError[];
  readOnly: boolean;
  lookups: Lookups;
}

/**
 * Everything the app knows about one shape kind, kept in its `<kind>-shape.tsx` file: how it looks, its
 * settings panel, the settings a new shape starts with and the checks the canvas runs before a deploy.
 */
export interface ShapeDefinition<T extends ShapeType> {
  type: T;
  /** From the server: shown in the palette and the panel title; also the name a new shape gets. */
  label: string;
  /** From the server: the palette's tooltip. */
  description: string;
  /** From the server: what an outgoing connection carries (a route / try-catch label, a branch order). */
  connection: "label" | "order" | "plain";
  /** From the server: the settings as JSON Schema (`GET /api/shape-types/`, the rules the server validates). */
  settingsSchema: Readonly<Record<string, unknown>>;
  /** Accent colour of the shape on the canvas and in the palette. */
  color: string;
  /** A short glyph shown in the shape's badge. */
  icon: string;
  summary: (settings: SettingsByType[T], lookups: Lookups) => string;
  Panel: ComponentType<PanelProps<T>>;
  /** Settings a freshly dropped shape starts with (required ones left empty for the user to fill in). */
  defaults: () => SettingsByType[T];
  /** The client-side checks of the settings (the server's rules for required settings and ranges); report
   * each problem with the setting path it is about. Absent: the settings cannot be wrong. */
  validate?: (settings: SettingsByType[T], problem: Problem) => void;
}

/** What a shape file writes; the rest comes from the server's description of the kind. */
export type ShapeKind<T extends ShapeType> = Omit<
  ShapeDefinition<T>,
  "label" | "description" | "connection" | "settingsSchema"
>;

/** A registry entry: the shape file's part joined with the server's description of that kind. */
export function defineShape<T extends ShapeType>(kind: ShapeKind<T>): ShapeDefinition<T> {
  const server = SHAPE_TYPE_SCHEMAS.find((shape) => shape.type === kind.type);
  if (!server) throw new Error(`The server has no shape type ${kind.type}: run make api-types.`);
  return {
    ...kind,
    label: server.label,
    description: server.description,
    connection: server.connection_attribute ?? "plain",
    settingsSchema: server.settings,
  };
}

export function nameOf(items: { id: number; name: string }[], id: number | null | undefined): string {
  if (id === null || id === undefined) return "";
  return items.find((item) => item.id === id)?.name ?? `#${id}`;
}
