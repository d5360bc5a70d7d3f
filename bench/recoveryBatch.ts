/**
 * One PostgreSQL recovery batch taken apart, for bench/recoveryParts.ts and
 * bench/stallIndexes.ts: recovery's statement (store/pg/workers.ts,
 * `stallStatement`) as text that can be cut after each of its parts, the
 * database they run on (100k running runs, every tenth stale), and a
 * batch run inside BEGIN … ROLLBACK timed by the backend's own CPU
 * (`/proc/<pid>/schedstat`, so the server must run on this machine).
 *
 * The statement text is a copy of `stallStatement`'s, kept here only to be
 * cut into parts; `lockedByJoin` is its form before h51 (the runs joined to
 * the locked jobs, planned as a hash of every stale run).
 */
import * as fs from "node:fs"
import type pg from "pg"
import { uuidv7 } from "../src/domain/uuidv7.js"
import { seedJobsPg, seedRunsPg } from "./fixtures.js"

const HOUR = 3_600_000

const heartbeat = `to_char(r.last_heartbeat AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const stale = (alias: string) => `${alias}.status = 'running' AND ${alias}.last_heartbeat < $1::timestamptz`
const runColumns = "r.id, r.job_id, r.status, r.last_heartbeat, r.error_message, r.created_at, r.updated_at"

export const lockedByKey = `FROM workflow_runs r WHERE r.id = ANY (ARRAY(SELECT id FROM stale_jobs)) AND ${stale("r")}`
export const lockedByJoin = `FROM workflow_runs r JOIN stale_jobs s0 ON s0.id = r.id WHERE ${stale("r")}`

/** The reads: $1 cutoff, $2 limit; $3 (instant) and $4 (event ids) are the writes'. */
export const reads = (locked: string) => `WITH stale_jobs AS MATERIALIZED (
      SELECT r.id, j.trace_id FROM workflow_runs r JOIN ai_jobs j ON j.id = r.job_id
      WHERE ${stale("r")} ORDER BY r.last_heartbeat, r.id LIMIT $2 FOR NO KEY UPDATE OF j SKIP LOCKED
    ), locked_runs AS MATERIALIZED (
      SELECT ${runColumns}, ${heartbeat} AS heartbeat ${locked} FOR NO KEY UPDATE OF r
    ), moved AS MATERIALIZED (
      SELECT s.*, j.trace_id, row_number() OVER (ORDER BY s.last_heartbeat, s.id) AS n,
        'stalled (startup recovery: heartbeat timeout): last heartbeat ' || s.heartbeat || ', threshold 30s' AS reason
      FROM locked_runs s JOIN stale_jobs j ON j.id = s.id
    )`
export const runsUpdate = `, stalled_runs AS (
      UPDATE workflow_runs r SET status = 'stalled', error_message = s.reason, updated_at = $3::timestamptz FROM moved s WHERE r.id = s.id)`
export const jobsUpdate = `, stalled_jobs AS (
      UPDATE ai_jobs j SET status = 'stalled', status_reason = 'stalled', error_message = s.reason, updated_at = $3::timestamptz
      FROM moved s WHERE j.id = s.job_id AND j.workflow_run_id = s.id AND j.status = 'running')`
export const body = `jsonb_build_object('event_id', e.event_id, 'timestamp', $3::text, 'actor', 'system', 'trace_id', s.trace_id,
      'job_id', s.job_id, 'workflow_run_id', s.id, 'type', 'workflow_recovery', 'from_state', 'running', 'to_state', 'stalled',
      'reason', s.reason, 'last_heartbeat_ts', s.heartbeat, 'threshold_secs', 30::bigint)`
export const eventsInsert = (value: string) => `, recorded AS (
      INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
      SELECT e.event_id, $3::timestamptz, 'system', 'workflow_recovery', s.trace_id, s.job_id, s.id, ${value}
      FROM moved s JOIN unnest($4::uuid[]) WITH ORDINALITY AS e(event_id, n) ON e.n = s.n)`
/** Uses every parameter, returns one row: the parts above it run, nothing is sent back per run. */
export const count = (cte: string) => ` SELECT count(*), $3::text, $4::uuid[] IS NULL FROM ${cte}`
/** The runs as stored after the move, as `stallStatement` returns them. */
export const returned = ` SELECT id, job_id, 'stalled' AS status, last_heartbeat, reason AS error_message, created_at,
      $3::timestamptz AS updated_at, trace_id, $4::uuid[] IS NULL FROM moved ORDER BY n`
/** Runs `moved` (so the writes above it run) and returns one row. */
export const afterWrites = count("moved")
/** The statement recovery runs, whole. */
export const wholeStatement = reads(lockedByKey) + runsUpdate + jobsUpdate + eventsInsert(body) + returned

/** A migrated database made the benchmark's: 100k running jobs each with its running run, 10k of them stale. */
export const seedStaleRuns = async (client: pg.Client): Promise<void> => {
  const now = Date.now()
  await seedJobsPg(client, { count: 100_000, state: "running", startMs: now - 2 * HOUR, jobsPerTrace: 1 })
  await seedRunsPg(client, { count: 100_000, staleEvery: 10, staleMs: now - HOUR, freshMs: now + 24 * HOUR })
  await client.query("VACUUM ANALYZE")
}

/** A batch's parameters: the cutoff (30 s ago), the batch size, the instant and the events' ids. */
export const batchParams = (batch: number): Array<unknown> => [
  new Date(Date.now() - 30_000).toISOString(),
  batch,
  new Date().toISOString(),
  `{${Array.from({ length: batch }, uuidv7).join(",")}}`
]

/** The CPU the client's backend has used, in ms (it must run on this machine). */
export const backendCpu = async (client: pg.Client): Promise<() => number> => {
  const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid
  return () => Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6
}

/** `run` inside BEGIN … ROLLBACK, so every sample moves the same rows; `withoutTriggers` turns the triggers off in it. */
export const rolledBack = async <A>(client: pg.Client, withoutTriggers: boolean, run: () => Promise<A>): Promise<A> => {
  await client.query("BEGIN")
  try {
    if (withoutTriggers) await client.query("SET LOCAL session_replication_role = replica")
    return await run()
  } finally {
    await client.query("ROLLBACK")
  }
}
