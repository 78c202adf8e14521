import { useEffect } from "react";
import type { ReactNode } from "react";
import { createBrowserRouter, Navigate, NavLink, Outlet, RouterProvider } from "react-router";
import { csrfToken } from "./api/client";
import { ConnectorsPage } from "./pages/connectors-page";
import { DesignerPage } from "./pages/designer-page";
import { FlowsPage } from "./pages/flows-page";
import { RunDetailPage } from "./pages/run-detail-page";
import { RunsPage } from "./pages/runs-page";
import { ScriptEditorPage } from "./pages/script-editor-page";
import { ScriptsPage } from "./pages/scripts-page";
import { useSession } from "./session";

function Layout(): ReactNode {
  const me = useSession((s) => s.me);
  const refresh = useSession((s) => s.refresh);
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
        </nav>
        <div className="user">
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
        <Outlet />
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
      { path: "*", element: <NotFound /> },
    ],
  },
]);

export function App(): ReactNode {
  return <RouterProvider router={router} />;
}
