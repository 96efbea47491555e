import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

// The app loads ui/dist from disk (no dev server in the Tauri config), so the build must work
// with relative asset paths and without any inline script (the CSP forbids it).
export default defineConfig({
  // svelteTesting: under vitest, resolve Svelte's browser build (components mount in jsdom).
  plugins: [svelte(), svelteTesting()],
  base: "./",
  clearScreen: false,
  build: {
    target: "safari15",
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
