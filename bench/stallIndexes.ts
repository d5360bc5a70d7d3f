/**
 * Would fewer index entries make PostgreSQL recovery's stall cheaper (issue
 * 16, stop 80)? The jobs' update is the largest part of a recovery batch
 * (bench/recoveryParts.ts): moving a job `running → stalled` is never a HOT
 * update, so every index of ai_jobs takes an entry for the new version. This
 * measures one batch of recovery's statement (bench/recoveryBatch.ts) on
 * databases alike but for ai_jobs' indexes and fillfactor:
 *
 *   as migrated                  this tree's schema.
 *   status index without stalled ai_jobs_status_created_idx partial, leaving
 *                                `stalled` out: what any partial status index
 *                                the stall skips would save (the listing of
 *                                stalled jobs would lose its index: for
 *                                measuring only).
 *   fillfactor 80                room on every page for a HOT version (the
 *                                table rewritten by VACUUM FULL, which also
 *                                rebuilds its indexes packed).
 *   HOT stall                    no index of ai_jobs names `status` (the
 *                                status index and both claim indexes
 *                                dropped) and fillfactor 80: the most a
 *                                schema could save the stall. Not shippable:
 *                                the claim needs its indexes.
 *
 * Each variant is its own database in one cluster, seeded alike (100k
 * running runs, 10k stale); the batch runs in BEGIN … ROLLBACK so every
 * sample moves the same 1000 runs, the variants interleaved, their order
 * alternating. Server CPU is each backend's own; exact beside it: how many of
 * the batch's job updates were HOT.
 *
 *   npx tsx bench/stallIndexes.ts [reps] [batch]   # default 15 reps, batch 1000
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
  jobsUpdate,
  lockedByKey,
  reads,
  rolledBack,
  seedStaleRuns,
  wholeStatement
} from "./recoveryBatch.js"
import { runMain } from "./runMain.js"

/** Rewrites ai_jobs so a new fillfactor holds on every page, not only on pages written later. */
const fillfactor80 = ["ALTER TABLE ai_jobs SET (fillfactor = 80)", "VACUUM FULL ai_jobs", "ANALYZE ai_jobs"]

const SCHEMAS: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["as migrated", []],
  ["status index without stalled", [
    "DROP INDEX ai_jobs_status_created_idx",
    "CREATE INDEX ai_jobs_status_created_idx ON ai_jobs (status, created_at, id) WHERE status <> 'stalled'",
    "ANALYZE ai_jobs"
  ]],
  ["fillfactor 80", fillfactor80],
  ["HOT stall", [
    "DROP INDEX ai_jobs_status_created_idx",
    "DROP INDEX ai_jobs_claim_idx",
    "DROP INDEX ai_jobs_kind_claim_idx",
    ...fillfactor80
  ]]
]

const PARTS: ReadonlyArray<readonly [string, string]> = [
  ["reads + jobs' update", reads(lockedByKey) + jobsUpdate + afterWrites],
  ["whole statement", wholeStatement]
]

interface Subject {
  readonly schema: string
  readonly client: pg.Client
  readonly cpuMs: () => number
}

const main = async (): Promise<void> => {
  const reps = Number(process.argv[2] ?? 15)
  const batch = Number(process.argv[3] ?? 1000)
  const cluster = await startBenchCluster()
  const loads = [os.loadavg().map((l) => l.toFixed(1)).join(" ")]
  const subjects: Array<Subject> = []
  try {
    for (const [i, [schema, change]] of SCHEMAS.entries()) {
      const url = await cluster.createDatabase(`stall_indexes_${i}`)
      await migrateTarget({ dialect: "pg", url })
      const client = await connectPg(url)
      await seedStaleRuns(client)
      for (const text of change) await client.query(text)
      subjects.push({ schema, client, cpuMs: await backendCpu(client) })
    }
    const hot = new Map<string, string>()
    for (const { client, schema } of subjects) {
      const counted = await rolledBack(client, false, async () => {
        await client.query(wholeStatement, batchParams(batch))
        return (await client.query<{ hot: string; updated: string; indexes: string }>(
          `SELECT pg_stat_get_xact_tuples_hot_updated('ai_jobs'::regclass) AS hot,
             pg_stat_get_xact_tuples_updated('ai_jobs'::regclass) AS updated,
             (SELECT count(*) FROM pg_index WHERE indrelid = 'ai_jobs'::regclass) AS indexes`
        )).rows[0]!
      })
      hot.set(schema, `${counted.hot} of ${counted.updated} (${counted.indexes} indexes)`)
    }
    const samples = new Map<string, Array<number>>()
    for (let rep = 0; rep < reps + 1; rep++) {
      for (const subject of rep % 2 === 0 ? subjects : [...subjects].reverse()) {
        for (const [part, text] of PARTS) {
          const values = batchParams(batch)
          const ms = await rolledBack(subject.client, false, async () => {
            const start = subject.cpuMs()
            await subject.client.query(text, values)
            return subject.cpuMs() - start
          })
          const key = `${subject.schema}|${part}`
          if (rep > 0) samples.set(key, [...(samples.get(key) ?? []), ms]) // the first round warms caches and plans
        }
      }
      // Rolled-back versions pile up; vacuum keeps every round on the same tables.
      if (rep % 2 === 1) {
        for (const { client } of subjects) await client.query("VACUUM workflow_runs, ai_jobs, flight_recorder_events")
      }
    }
    loads.push(os.loadavg().map((l) => l.toFixed(1)).join(" "))
    console.log(`## one recovery batch of ${batch} among 10k stale of 100k runs, PostgreSQL: server CPU by ai_jobs' schema (${reps} interleaved samples; load ${loads.join(" → ")})`)
    console.log(`| schema | ${PARTS.map(([part]) => `${part}, median µs a run`).join(" | ")} | HOT job updates |`)
    console.log(`|---|${PARTS.map(() => "---|").join("")}---|`)
    for (const { schema } of subjects) {
      const cells = PARTS.map(([part]) => (median(samples.get(`${schema}|${part}`)!) * 1000 / batch).toFixed(1))
      console.log(`| ${schema} | ${cells.join(" | ")} | ${hot.get(schema)} |`)
    }
  } finally {
    for (const { client } of subjects) await client.end()
    await cluster.stop()
  }
}

runMain(main)
