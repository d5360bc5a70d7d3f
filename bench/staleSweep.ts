/**
 * A periodic recovery sweep on PostgreSQL that finds nothing stale, among
 * many running jobs, with statistics taken before they ran (issue 16, h62):
 * two checkouts side by side, each on a database of its own migrated by that
 * tree, samples interleaved. Per sweep, exactly, its stalling statements
 * (one per concurrent scan) and the shared buffers they touched
 * (pg_stat_statements, the statement naming `stalled_jobs`), and the sweep's
 * wall time (medians). Then the statistics
 * are brought up to date and it is measured again.
 *
 * Plain, the stalled jobs' guard `j.status = 'running'` let the planner read
 * every running job's status index entries on each sweep to stall none.
 * Not part of `npm run bench`.
 *
 *   npx tsx bench/staleSweep.ts <base checkout> [running] [reps]   # default 20000, 15
 */
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { connectPg } from "./drivers.js"
import { seedJobsPg, seedRunsPg } from "./fixtures.js"
import { median } from "./harness.js"
import type * as App from "./app.js"
import { loadRecoveryTree, type RecoveryTree } from "./trees.js"
import { COUNTING_SETTINGS, PG_STAT_STATEMENTS, startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

const HOUR = 3_600_000

const main = async () => {
  const [baseRoot, runningArg, repsArg] = process.argv.slice(2)
  if (baseRoot === undefined) throw new Error("usage: staleSweep.ts <base checkout> [running] [reps]")
  if (!PG_STAT_STATEMENTS) throw new Error("this tool counts buffers with pg_stat_statements, which this server lacks")
  const running = Number(runningArg ?? 20_000)
  const reps = Number(repsArg ?? 15)
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const trees = [await loadRecoveryTree("base", path.resolve(baseRoot)), await loadRecoveryTree("mine", here)]
  const cluster = await startBenchCluster(COUNTING_SETTINGS)
  const loads: Array<string> = [os.loadavg()[0]!.toFixed(2)]
  try {
    const targets: Array<{
      readonly tree: RecoveryTree
      readonly client: Awaited<ReturnType<typeof connectPg>>
      readonly runtime: ManagedRuntime.ManagedRuntime<App.Services, unknown>
      readonly database: string
    }> = []
    for (const tree of trees) {
      const database = `sweep_${tree.name}`
      const target = { dialect: "pg" as const, url: await cluster.createDatabase(database) }
      await tree.app.migrateTarget(target)
      const client = await connectPg(target.url)
      await client.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
      for (const table of ["ai_jobs", "workflow_runs", "flight_recorder_events"]) {
        await client.query(`ALTER TABLE ${table} SET (autovacuum_enabled = off)`)
      }
      // Statistics taken while every job and run had ended; then they all run (heartbeats fresh: none stale).
      const now = Date.now()
      await seedJobsPg(client, { count: running, state: "completed", startMs: now - 2 * HOUR, jobsPerTrace: 1 })
      await seedRunsPg(client, { count: running, staleEvery: running + 1, staleMs: now - 2 * HOUR, freshMs: now + 24 * HOUR })
      await client.query("UPDATE workflow_runs SET status = 'completed'")
      await client.query("ANALYZE")
      await client.query("UPDATE ai_jobs SET status = 'running'")
      await client.query("UPDATE workflow_runs SET status = 'running'")
      const runtime = ManagedRuntime.make(tree.app.servicesLayer(target))
      await runtime.runPromise(tree.recovery.recoverStalledRuns()) // warm-up: pool, plans
      targets.push({ tree, client, runtime, database })
    }
    /** The stalling statement's calls and shared buffers so far, in `database`. */
    const counters = async (entry: typeof targets[number]) => {
      const { rows: [row] } = await entry.client.query<{ calls: string | null; blocks: string | null }>(`
        SELECT sum(s.calls) AS calls, sum(s.shared_blks_hit + s.shared_blks_read) AS blocks
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 AND s.query LIKE '%stalled_jobs AS%' AND s.query NOT LIKE '%pg_stat_statements%'`, [entry.database])
      return { calls: Number(row?.calls ?? 0), blocks: Number(row?.blocks ?? 0) }
    }
    const samples = new Map<string, Array<number>>()
    const push = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value])
    for (const phase of ["stale statistics", "statistics up to date"]) {
      if (phase === "statistics up to date") for (const entry of targets) await entry.client.query("ANALYZE")
      for (let rep = 0; rep < reps; rep++) {
        for (const entry of rep % 2 === 0 ? targets : [...targets].reverse()) {
          const before = await counters(entry)
          const start = performance.now()
          const report = await entry.runtime.runPromise(entry.tree.recovery.recoverStalledRuns())
          push(`${phase} ${entry.tree.name} ms`, performance.now() - start)
          if (report.recovered.length !== 0) throw new Error(`${entry.tree.name} stalled ${report.recovered.length}: none is stale`)
          const after = await counters(entry)
          push(`${phase} ${entry.tree.name} statements`, after.calls - before.calls)
          push(`${phase} ${entry.tree.name} blocks`, after.blocks - before.blocks)
        }
      }
    }
    loads.push(os.loadavg()[0]!.toFixed(2))
    console.log(`## a sweep stalling nothing among ${running} running jobs, PostgreSQL, ${reps} interleaved samples a phase (load ${loads.join(" → ")})`)
    console.log("| statistics | tree | stalling statements a sweep | their shared buffers a sweep (min–max) | sweep median ms |")
    console.log("|---|---|---|---|---|")
    const range = (values: ReadonlyArray<number>) => `${Math.min(...values)}–${Math.max(...values)}`
    for (const phase of ["stale statistics", "statistics up to date"]) {
      for (const { name } of trees) {
        const get = (what: string) => samples.get(`${phase} ${name} ${what}`)!
        console.log(`| ${phase} | ${name} | ${range(get("statements"))} | ${range(get("blocks"))} | ${median(get("ms")).toFixed(2)} |`)
      }
      console.log(`| ${phase} | mine ÷ base (time) | | | ${(median(samples.get(`${phase} mine ms`)!) / median(samples.get(`${phase} base ms`)!)).toFixed(2)} |`)
    }
    for (const entry of targets) {
      await entry.runtime.dispose()
      await entry.client.end()
    }
  } finally {
    await cluster.stop()
  }
}

runMain(main)
