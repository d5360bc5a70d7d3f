/**
 * Where one PostgreSQL recovery batch spends the server's CPU, part by part
 * (issue 16, h51): recovery's statement (store/pg/workers.ts,
 * `stallStatement`) cut after each of its parts — the reads (jobs locked,
 * runs locked, numbered, returned), then each write alone (runs, jobs, the
 * events with and without their body) and the whole — each run in its own
 * BEGIN … ROLLBACK on a database of 100k running runs, 10k of them stale,
 * so every sample moves the same first batch. The variants are interleaved;
 * the CPU is the backend's own (`/proc/<pid>/schedstat`, so the server must
 * run on this machine), less sensitive to a loaded machine than wall time.
 * Exact counts beside it: shared buffers each read variant touches
 * (EXPLAIN ANALYZE BUFFERS, TIMING OFF).
 *
 * The statement and its parts are bench/recoveryBatch.ts's.
 * `jobs (no triggers)` runs with `session_replication_role = replica`: the
 * price of the announcement trigger, for reading only.
 *
 *   npx tsx bench/recoveryParts.ts [reps] [batch]   # default 15 reps, batch 1000
 */
import * as os from "node:os"
import type pg from "pg"
import { migrateTarget } from "./app.js"
import { connectPg } from "./drivers.js"
import { median } from "./harness.js"
import { startBenchCluster } from "./postgres.js"
import {
  afterWrites,
  backendCpu,
  batchParams,
  body,
  count,
  eventsInsert,
  jobsUpdate,
  lockedByJoin,
  lockedByKey,
  reads,
  returned,
  rolledBack,
  runsUpdate,
  seedStaleRuns,
  wholeStatement
} from "./recoveryBatch.js"
import { runMain } from "./runMain.js"

const VARIANTS: ReadonlyArray<readonly [string, string, boolean]> = [
  ["stale_jobs (jobs locked)", reads(lockedByKey) + count("stale_jobs"), true],
  ["locked_runs (by key)", reads(lockedByKey) + count("locked_runs"), true],
  ["locked_runs (join)", reads(lockedByJoin) + count("locked_runs"), true],
  ["moved", reads(lockedByKey) + count("moved"), true],
  ["moved, rows returned", reads(lockedByKey) + returned, true],
  ["+ runs update", reads(lockedByKey) + runsUpdate + afterWrites, false],
  ["+ jobs update", reads(lockedByKey) + jobsUpdate + afterWrites, false],
  ["+ jobs update (no triggers)", reads(lockedByKey) + jobsUpdate + afterWrites, false],
  ["+ events", reads(lockedByKey) + eventsInsert(body) + afterWrites, false],
  ["+ events (body '{}')", reads(lockedByKey) + eventsInsert(`'{}'::jsonb`) + afterWrites, false],
  ["whole statement", wholeStatement, false]
]

const main = async (): Promise<void> => {
  const reps = Number(process.argv[2] ?? 15)
  const batch = Number(process.argv[3] ?? 1000)
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  try {
    const url = await cluster.createDatabase("recovery_parts")
    await migrateTarget({ dialect: "pg", url })
    const client = await connectPg(url)
    await seedStaleRuns(client)
    const cpuMs = await backendCpu(client)
    const params = () => batchParams(batch)
    const inRollback = <A>(name: string, run: (c: pg.Client) => Promise<A>): Promise<A> =>
      rolledBack(client, name.includes("no triggers"), () => run(client))
    // Exact: shared buffers touched by each read variant (the same rows every time).
    const buffers = new Map<string, number>()
    for (const [name, text, isRead] of VARIANTS) {
      if (!isRead) continue
      const plan = await inRollback(name, (c) => c.query(`EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) ${text}`, params()))
      buffers.set(name, (plan.rows[0]["QUERY PLAN"] as Array<{ Plan: { "Shared Hit Blocks": number; "Shared Read Blocks": number } }>)[0]!.Plan["Shared Hit Blocks"])
    }
    const samples = new Map<string, Array<number>>(VARIANTS.map(([name]) => [name, []]))
    for (let rep = 0; rep < reps + 1; rep++) {
      for (const [name, text] of rep % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
        const values = params()
        const ms = await inRollback(name, async (c) => {
          const start = cpuMs()
          await c.query(text, values)
          return cpuMs() - start
        })
        if (rep > 0) samples.get(name)!.push(ms) // the first round warms caches and plans
      }
      // Rolled-back versions pile up; vacuum keeps every round on the same tables.
      if (rep % 2 === 1) await client.query("VACUUM workflow_runs, ai_jobs, flight_recorder_events")
    }
    loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    console.log(`## one recovery batch of ${batch} among 10k stale of 100k runs, PostgreSQL: server CPU by part (${reps} interleaved samples; load ${loads.join(" → ")})`)
    console.log("| part | server CPU median ms | min ms | µs per run | shared buffers |")
    console.log("|---|---|---|---|---|")
    for (const [name] of VARIANTS) {
      const values = samples.get(name)!
      const med = median(values)
      console.log(`| ${name} | ${med.toFixed(1)} | ${Math.min(...values).toFixed(1)} | ${(med * 1000 / batch).toFixed(1)} | ${buffers.get(name) ?? ""} |`)
    }
    await client.end()
  } finally {
    await cluster.stop()
  }
}

runMain(main)
