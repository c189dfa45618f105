import { defineConfig } from "vitest/config";

// Tauri serves dist/ from the binary; no dev server is used (see src-tauri/tauri.conf.json).
export default defineConfig({
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // WebKitGTK 2.40+ is the oldest engine we run in; no legacy polyfills needed.
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
