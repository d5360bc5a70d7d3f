/**
 * Vitest globalSetup: provides one PostgreSQL admin URL for the whole run.
 *
 * - HSK_TEST_PG_URL set: use that server (its user must be allowed to CREATE DATABASE).
 * - otherwise: start a throwaway cluster (see postgres-cluster.ts) and stop it on teardown.
 *
 * The `pgAdminUrl` type is declared in vitest-provided.d.ts.
 * Test files get per-file databases through `freshDatabaseUrl()` in pg-database.ts.
 */
import type { TestProject } from "vitest/node"
import { startThrowawayCluster } from "./postgres-cluster.js"

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env["HSK_TEST_PG_URL"]
  if (external !== undefined && external !== "") {
    project.provide("pgAdminUrl", external)
    return async () => {}
  }
  const cluster = await startThrowawayCluster()
  project.provide("pgAdminUrl", cluster.url)
  return cluster.stop
}
