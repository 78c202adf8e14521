import { lazy, Suspense, useEffect } from "react";
import type { ReactNode } from "react";
import { createBrowserRouter, Navigate, NavLink, Outlet, RouterProvider } from "react-router";
import { csrfToken } from "./api/client";
import { Loading } from "./components/ui";
import { useSession } from "./session";
import { useTheme } from "./theme";

// Each screen is its own chunk: the designer does not load the script editor's CodeMirror and back.
const ConnectorsPage = lazy(() =>
  import("./pages/connectors-page").then((m) => ({ default: m.ConnectorsPage })),
);
const DesignerPage = lazy(() => import("./pages/designer-page").then((m) => ({ default: m.DesignerPage })));
const FlowsPage = lazy(() => import("./pages/flows-page").then((m) => ({ default: m.FlowsPage })));
const RunDetailPage = lazy(() =>
  import("./pages/run-detail-page").then((m) => ({ default: m.RunDetailPage })),
);
const NotificationsPage = lazy(() =>
  import("./pages/notifications-page").then((m) => ({ default: m.NotificationsPage })),
);
const RunsPage = lazy(() => import("./pages/runs-page").then((m) => ({ default: m.RunsPage })));
const ScriptEditorPage = lazy(() =>
  import("./pages/script-editor-page").then((m) => ({ default: m.ScriptEditorPage })),
);
const ScriptsPage = lazy(() => import("./pages/scripts-page").then((m) => ({ default: m.ScriptsPage })));

function Layout(): ReactNode {
  const me = useSession((s) => s.me);
  const refresh = useSession((s) => s.refresh);
  const theme = useTheme((s) => s.theme);
  const toggleTheme = useTheme((s) => s.toggle);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/flows" className="brand">
          Patchbay
        </NavLink>
        <nav aria-label="Main">
          <NavLink to="/flows">Flows</NavLink>
          <NavLink to="/scripts">Scripts</NavLink>
          <NavLink to="/connectors">Connectors</NavLink>
          <NavLink to="/runs">Runs</NavLink>
          <NavLink to="/alerts">Alerts</NavLink>
        </nav>
        <div className="user">
          <button
            type="button"
            className="link-button theme-toggle"
            data-testid="theme-toggle"
            aria-pressed={theme === "dark"}
            title="Switch between the light and the dark theme"
            onClick={toggleTheme}
          >
            {theme === "dark" ? "Light mode" : "Dark mode"}
          </button>
          <span title={me.roles.join(", ")}>
            {me.username} <span className="role">{me.roles.join(", ") || "no role"}</span>
          </span>
          <form method="post" action="/logout/">
            <input type="hidden" name="csrfmiddlewaretoken" value={csrfToken()} />
            <button type="submit" className="link-button">
              Log out
            </button>
          </form>
        </div>
      </header>
      <main id="main">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}

function NotFound(): ReactNode {
  return (
    <div className="page">
      <h1>Not found</h1>
      <p>
        There is nothing at this address. <NavLink to="/flows">Go to the flows.</NavLink>
      </p>
    </div>
  );
}

const router = createBrowserRouter([
  {
    path: "/",
    element: <Layout />,
    children: [
      { index: true, element: <Navigate to="/flows" replace /> },
      { path: "flows", element: <FlowsPage /> },
      { path: "flows/:flowId", element: <DesignerPage /> },
      { path: "scripts", element: <ScriptsPage /> },
      { path: "scripts/:scriptId", element: <ScriptEditorPage /> },
      { path: "connectors", element: <ConnectorsPage /> },
      { path: "connectors/:connectorId", element: <ConnectorsPage /> },
      { path: "runs", element: <RunsPage /> },
      { path: "runs/:runId", element: <RunDetailPage /> },
      { path: "alerts", element: <NotificationsPage /> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);

export function App(): ReactNode {
  return <RouterProvider router={router} />;
}
