import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Starts (or connects to) PostgreSQL once per run; see test/support/global-setup.ts.
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    // Two test files at a time, also on a 2-core machine (Vitest's default there is one): most
    // files wait on PostgreSQL, SQLite's fsyncs or child processes, not the CPU, so the suite
    // takes ~9 minutes instead of ~15. Each file has its own databases and temporary folders.
    maxWorkers: 2,
    hookTimeout: 60_000
  }
})
