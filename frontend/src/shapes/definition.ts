import type { ComponentType } from "react";
import type { Connector, Endpoint, Flow, Script } from "../api/types";
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

export interface ShapeDefinition<T extends ShapeType> {
  type: T;
  label: string;
  description: string;
  /** Accent colour of the shape on the canvas and in the palette. */
  color: string;
  /** A short glyph shown in the shape's badge. */
  icon: string;
  summary: (settings: SettingsByType[T], lookups: Lookups) => string;
  Panel: ComponentType<PanelProps<T>>;
}

export function nameOf(items: { id: number; name: string }[], id: number | null | undefined): string {
  if (id === null || id === undefined) return "";
  return items.find((item) => item.id === id)?.name ?? `#${id}`;
}
