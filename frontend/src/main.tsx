import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app";
import { startTheme } from "./theme";
import "@xyflow/react/dist/style.css";
import "./styles/index.css";
import "./features.css";

startTheme();

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
