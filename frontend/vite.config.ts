/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Django serves the build through django-vite: assets live under /static/ and the manifest tells the
// template which hashed files belong to src/main.tsx.
export default defineConfig({
  plugins: [react()],
  base: "/static/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: "manifest.json",
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: "src/main.tsx",
    },
  },
  server: {
    origin: "http://localhost:5173",
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
