import { defineConfig } from "vitest/config"

/**
 * Test files that need a module graph of their own (the rest share one per
 * worker process; see `isolate` below): library-records replaces a module
 * with vi.mock, which would reach the files run after it.
 *
 * Shared modules also share whatever a test library keeps global: @effect/vitest's
 * `layer()` rewrites the global `it.effect`, so every later file of the worker
 * ran on one block's layer and TestClock (the Janitor's and the SQLite
 * contract's clock tests failed on CI). We use describeWithLayer instead, and
 * lint refuses `layer` (test/support/describeWithLayer.ts).
 */
const isolated = ["test/store/library-records.test.ts"]

const shared = {
  testTimeout: 30_000,
  hookTimeout: 60_000,
  // Starts (or connects to) PostgreSQL once per run, for both projects; see test/support/global-setup.ts.
  globalSetup: ["test/support/global-setup.ts"]
}

export default defineConfig({
  test: {
    // Two test files at a time, also on a 2-core machine (Vitest's default there is one): most
    // files wait on PostgreSQL, SQLite's fsyncs or child processes, not the CPU.
    maxWorkers: 2,
    // A worker process loads Effect and our modules once for all the files it runs, not once a
    // file: importing them was a fifth of the suite's time (collect 280 s → 27 s; the suite
    // ~14.8 → ~11.2 minutes here). Every file has its own databases and temporary folders.
    isolate: false,
    projects: [
      { test: { ...shared, name: "shared", include: ["test/**/*.test.ts"], exclude: isolated } },
      { test: { ...shared, name: "isolated", include: isolated, isolate: true } }
    ]
  }
})
