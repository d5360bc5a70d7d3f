// Values handed from test/support/global-setup.ts to test files via `inject()`.
// `export {}` makes this file a module, so the block below augments "vitest" instead of replacing it.
export {}

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the test PostgreSQL server (may CREATE DATABASE). */
    pgAdminUrl: string
  }
}
