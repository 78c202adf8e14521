/**
 * Light or dark: the user's choice from the header toggle, kept in localStorage, or without one the
 * system's `prefers-color-scheme` (followed live). The resolved theme is `<html data-theme>`, which
 * styles/tokens.css keys its colours on.
 */
import { create } from "zustand";

export type Theme = "light" | "dark";
export const THEME_STORAGE_KEY = "patchbay-theme";
const DARK_QUERY = "(prefers-color-scheme: dark)";

function storedChoice(): Theme | null {
  try {
    const value = window.localStorage.getItem(THEME_STORAGE_KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null; // Storage can be off (privacy modes); the system's preference still applies.
  }
}

function systemTheme(): Theme {
  return window.matchMedia?.(DARK_QUERY).matches ? "dark" : "light";
}

function apply(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
}

interface ThemeState {
  /** What the page shows. */
  theme: Theme;
  /** The user's explicit choice, or null to follow the system. */
  choice: Theme | null;
  toggle: () => void;
}

export const useTheme = create<ThemeState>()((set, get) => {
  const choice = storedChoice();
  return {
    theme: choice ?? systemTheme(),
    choice,
    toggle: () => {
      const next: Theme = get().theme === "dark" ? "light" : "dark";
      try {
        window.localStorage.setItem(THEME_STORAGE_KEY, next);
      } catch {
        // Not persisted; the toggle still works for this page.
      }
      apply(next);
      set({ theme: next, choice: next });
    },
  };
});

/** Paint the resolved theme before the first render and follow the system while there is no choice. */
export function startTheme(): void {
  apply(useTheme.getState().theme);
  window.matchMedia?.(DARK_QUERY).addEventListener("change", (event) => {
    if (useTheme.getState().choice !== null) return;
    const theme: Theme = event.matches ? "dark" : "light";
    apply(theme);
    useTheme.setState({ theme });
  });
}
