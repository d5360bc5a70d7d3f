/**
 * Vitest globalSetup: provides one PostgreSQL admin URL for the whole run.
 *
 * - HSK_TEST_PG_URL set: use that server (its user must be allowed to CREATE DATABASE).
 * - otherwise: start a throwaway cluster (see postgres-cluster.ts) and stop it on teardown.
 *
 * Vitest calls it once for each project (vitest.config.ts has two): they
 * share one cluster, stopped by the last teardown.
 *
 * The `pgAdminUrl` type is declared in vitest-provided.d.ts.
 * Test files get per-file databases through `freshDatabaseUrl()` in pg-database.ts.
 */
import type { TestProject } from "vitest/node"
import { startThrowawayCluster, type ThrowawayCluster } from "./postgres-cluster.js"

interface Shared {
  cluster: Promise<ThrowawayCluster> | undefined
  users: number
}

// On globalThis: Vitest may load this module once for each project.
const key = Symbol.for("hsk.test.pgCluster")
const shared = ((globalThis as Record<symbol, unknown>)[key] ??= { cluster: undefined, users: 0 }) as Shared

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env["HSK_TEST_PG_URL"]
  if (external !== undefined && external !== "") {
    project.provide("pgAdminUrl", external)
    return async () => {}
  }
  shared.users += 1
  shared.cluster ??= startThrowawayCluster()
  const cluster = await shared.cluster
  project.provide("pgAdminUrl", cluster.url)
  return async () => {
    shared.users -= 1
    if (shared.users === 0) {
      shared.cluster = undefined
      await cluster.stop()
    }
  }
}
