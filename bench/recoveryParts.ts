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
 * The statement text is a copy of `stallStatement`'s, kept beside it only to
 * be cut into parts; `locked_runs (join)` is its form before h51 (the runs
 * joined to the locked jobs, planned as a hash of every stale run).
 * `jobs (no triggers)` runs with `session_replication_role = replica`: the
 * price of the announcement trigger, for reading only.
 *
 *   npx tsx bench/recoveryParts.ts [reps] [batch]   # default 15 reps, batch 1000
 */
import * as fs from "node:fs"
import * as os from "node:os"
import type pg from "pg"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { migrateTarget } from "./app.js"
import { connectPg } from "./drivers.js"
import { seedJobsPg, seedRunsPg } from "./fixtures.js"
import { median } from "./harness.js"
import { startBenchCluster } from "./postgres.js"
import { runMain } from "./runMain.js"

const HOUR = 3_600_000

const heartbeat = `to_char(r.last_heartbeat AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const stale = (alias: string) => `${alias}.status = 'running' AND ${alias}.last_heartbeat < $1::timestamptz`
const runColumns = "r.id, r.job_id, r.status, r.last_heartbeat, r.error_message, r.created_at, r.updated_at"

const lockedByKey = `FROM workflow_runs r WHERE r.id = ANY (ARRAY(SELECT id FROM stale_jobs)) AND ${stale("r")}`
const lockedByJoin = `FROM workflow_runs r JOIN stale_jobs s0 ON s0.id = r.id WHERE ${stale("r")}`

/** The reads: $1 cutoff, $2 limit; $3 (instant) and $4 (event ids) are the writes'. */
const reads = (locked: string) => `WITH stale_jobs AS MATERIALIZED (
      SELECT r.id, j.trace_id FROM workflow_runs r JOIN ai_jobs j ON j.id = r.job_id
      WHERE ${stale("r")} ORDER BY r.last_heartbeat, r.id LIMIT $2 FOR NO KEY UPDATE OF j SKIP LOCKED
    ), locked_runs AS MATERIALIZED (
      SELECT ${runColumns}, ${heartbeat} AS heartbeat ${locked} FOR NO KEY UPDATE OF r
    ), moved AS MATERIALIZED (
      SELECT s.*, j.trace_id, row_number() OVER (ORDER BY s.last_heartbeat, s.id) AS n,
        'stalled (startup recovery: heartbeat timeout): last heartbeat ' || s.heartbeat || ', threshold 30s' AS reason
      FROM locked_runs s JOIN stale_jobs j ON j.id = s.id
    )`
const runsUpdate = `, stalled_runs AS (
      UPDATE workflow_runs r SET status = 'stalled', error_message = s.reason, updated_at = $3::timestamptz FROM moved s WHERE r.id = s.id)`
const jobsUpdate = `, stalled_jobs AS (
      UPDATE ai_jobs j SET status = 'stalled', status_reason = 'stalled', error_message = s.reason, updated_at = $3::timestamptz
      FROM moved s WHERE j.id = s.job_id AND j.workflow_run_id = s.id AND j.status = 'running')`
const body = `jsonb_build_object('event_id', e.event_id, 'timestamp', $3::text, 'actor', 'system', 'trace_id', s.trace_id,
      'job_id', s.job_id, 'workflow_run_id', s.id, 'type', 'workflow_recovery', 'from_state', 'running', 'to_state', 'stalled',
      'reason', s.reason, 'last_heartbeat_ts', s.heartbeat, 'threshold_secs', 30::bigint)`
const eventsInsert = (value: string) => `, recorded AS (
      INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
      SELECT e.event_id, $3::timestamptz, 'system', 'workflow_recovery', s.trace_id, s.job_id, s.id, ${value}
      FROM moved s JOIN unnest($4::uuid[]) WITH ORDINALITY AS e(event_id, n) ON e.n = s.n)`
/** Uses every parameter, returns one row: the parts above it run, nothing is sent back per run. */
const count = (cte: string) => ` SELECT count(*), $3::text, $4::uuid[] IS NULL FROM ${cte}`
/** The runs as stored after the move, as `stallStatement` returns them. */
const returned = ` SELECT id, job_id, 'stalled' AS status, last_heartbeat, reason AS error_message, created_at,
      $3::timestamptz AS updated_at, trace_id, $4::uuid[] IS NULL FROM moved ORDER BY n`
/** Runs `moved` (so the writes above it run) and returns one row. */
const afterWrites = count("moved")

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
  ["whole statement", reads(lockedByKey) + runsUpdate + jobsUpdate + eventsInsert(body) + returned, false]
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
    const now = Date.now()
    await seedJobsPg(client, { count: 100_000, state: "running", startMs: now - 2 * HOUR, jobsPerTrace: 1 })
    await seedRunsPg(client, { count: 100_000, staleEvery: 10, staleMs: now - HOUR, freshMs: now + 24 * HOUR })
    await client.query("VACUUM ANALYZE")
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid
    const cpuMs = () => Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6
    const params = () => [
      new Date(Date.now() - 30_000).toISOString(),
      batch,
      new Date().toISOString(),
      `{${Array.from({ length: batch }, uuidv7).join(",")}}`
    ]
    const inRollback = async <A>(name: string, run: (c: pg.Client) => Promise<A>): Promise<A> => {
      await client.query("BEGIN")
      try {
        if (name.includes("no triggers")) await client.query("SET LOCAL session_replication_role = replica")
        return await run(client)
      } finally {
        await client.query("ROLLBACK")
      }
    }
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
