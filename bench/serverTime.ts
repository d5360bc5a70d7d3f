/**
 * Where a lifecycle's server time goes (issue 16): `npx tsx
 * bench/serverTime.ts [jobs]` runs `jobs` lifecycles of ours and of pg-boss,
 * one at a time, each in its own database of a cluster started with
 * pg_stat_statements (planning tracked too), and prints per statement its
 * calls per job and its mean planning and execution time on the server.
 * What a job costs the server, next to what it costs in all (wall time).
 *
 * Not part of `npm run bench`; used to write bench/analysis.md.
 */
import * as Effect from "effect/Effect"
import { performance } from "node:perf_hooks"
import { withServices } from "./app.js"
import { bossCycle, startBoss } from "./baselines/pgBoss.js"
import { connectPg } from "./drivers.js"
import { oneLifecycle } from "./lifecycle.js"
import { COUNTING_SETTINGS, startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"
import { printStatementStats, statementStats } from "./statementStats.js"

const main = async () => {
  const jobs = Number(process.argv[2] ?? 500)
  const cluster = await startBenchCluster([...COUNTING_SETTINGS, ["pg_stat_statements.track_planning", "on"]])
  const admin = await connectPg(cluster.url)
  try {
    await admin.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    const report = async (name: string, database: string, wallMs: number) =>
      printStatementStats(`${name}: ${(wallMs / jobs * 1000).toFixed(0)} µs per job wall`, await statementStats(admin, database), jobs)
    const oursUrl = await cluster.createDatabase("time_ours")
    await withServices({ dialect: "pg", url: oursUrl }, Effect.gen(function*() {
      for (let i = 0; i < 50; i++) yield* oneLifecycle
      yield* Effect.promise(() => admin.query("SELECT pg_stat_statements_reset()"))
      const start = performance.now()
      for (let i = 0; i < jobs; i++) yield* oneLifecycle
      const wall = performance.now() - start
      yield* Effect.promise(() => report("ours", "time_ours", wall))
    }))
    const bossUrl = await cluster.createDatabase("time_boss")
    const { boss, queue } = await startBoss(bossUrl)
    try {
      for (let i = 0; i < 50; i++) await bossCycle(boss, queue)
      await admin.query("SELECT pg_stat_statements_reset()")
      const start = performance.now()
      for (let i = 0; i < jobs; i++) await bossCycle(boss, queue)
      await report("pg-boss", "time_boss", performance.now() - start)
    } finally {
      await boss.stop({ graceful: false, wait: true })
    }
  } finally {
    await admin.end()
    await cluster.stop()
  }
}

runMain(main)
