/**
 * Where recovery's time goes on PostgreSQL at the issue's size (10k stale
 * runs among 100k): one `Recovery.recoverStalledRuns()` with `auto_explain`
 * logging every statement's plan with ANALYZE, buffers and trigger times.
 * ANALYZE's timing slows the run several times over: read shares, not
 * milliseconds. This is how migration 0010's missing index order was found.
 *
 *   npx tsx bench/explainRecovery.ts [out.log]   # default /tmp/explain-recovery.log
 */
import * as fs from "node:fs"
import { performance } from "node:perf_hooks"
import * as Recovery from "../src/Recovery.js"
import { migrateTarget, withServices } from "./app.js"
import { connectPg } from "./drivers.js"
import { seedJobsPg, seedRunsPg } from "./fixtures.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

const HOUR = 3_600_000

const main = async (): Promise<void> => {
  const out = process.argv[2] ?? "/tmp/explain-recovery.log"
  const cluster = await startBenchCluster()
  try {
    const url = await cluster.createDatabase("explain_recovery")
    const target = { dialect: "pg" as const, url }
    await migrateTarget(target)
    const client = await connectPg(url)
    const now = Date.now()
    await seedJobsPg(client, { count: 100_000, state: "running", startMs: now - 2 * HOUR, jobsPerTrace: 1 })
    await seedRunsPg(client, { count: 100_000, staleEvery: 10, staleMs: now - HOUR, freshMs: now + 24 * HOUR })
    await client.query("VACUUM ANALYZE")
    // For the store's own connections, opened after this.
    for (const setting of ["session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on", "auto_explain.log_triggers = on", "auto_explain.log_buffers = on"]) {
      await client.query(`ALTER DATABASE explain_recovery SET ${setting}`)
    }
    await client.end()
    const started = performance.now()
    const report = await withServices(target, Recovery.recoverStalledRuns())
    console.log(`recovered ${report.recovered.length} runs in ${(performance.now() - started).toFixed(0)} ms (with ANALYZE's overhead)`)
    fs.copyFileSync(cluster.logFile, out)
    console.log(`plans: ${out}`)
  } finally {
    await cluster.stop()
  }
}

runMain(main)
