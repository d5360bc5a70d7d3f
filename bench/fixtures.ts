/**
 * Set-based fixtures: rows are generated inside the database (generate_series
 * on PostgreSQL, a recursive CTE on SQLite) in one statement each, never one
 * by one through the API, so 1M rows load in seconds.
 *
 * Generated ids are UUID-shaped and deterministic: `PPPPPPPP-0000-7000-8000-<g in hex>`
 * with a per-fixture prefix, so fixtures never collide with each other or
 * with the UUIDv7 ids the library generates, and a benchmark can name a row
 * (e.g. a trace id) without reading it back.
 */
import type pg from "pg"
import { migrateTarget, type Target } from "./app.js"
import type { BenchCluster } from "./postgres.js"
import { connectPg, openSqlite, type SqliteDatabase } from "./drivers.js"

/** The states, in the order mixed fixtures cycle through them. */
export const STATES = [
  "queued", "running", "stalled", "awaiting_validation", "awaiting_user",
  "completed", "completed_with_issues", "failed", "cancelled", "poisoned"
] as const

/** Prefixes of the generated id families. */
export const PREFIX = { job: 0xa0, trace: 0xb0, run: 0xc0, event: 0xd0, eventTrace: 0xe0 } as const

/** A fixture id as the databases generate it, for naming one from JavaScript. */
export const fixtureId = (prefix: number, g: number): string =>
  `${prefix.toString(16).padStart(8, "0")}-0000-7000-8000-${g.toString(16).padStart(12, "0")}`

/** How jobs are generated. `tracesPerJob`: jobs g share trace `g / jobsPerTrace`. */
export interface JobFixture {
  readonly count: number
  /** One state for all, or `mixed`: state `STATES[g % 10]`. */
  readonly state: (typeof STATES)[number] | "mixed"
  /** created_at of job g is `start + g ms` (epoch ms). */
  readonly startMs: number
  readonly jobsPerTrace: number
}

// PostgreSQL -----------------------------------------------------------------

const pgId = (prefix: number, expr: string) =>
  `('${prefix.toString(16).padStart(8, "0")}-0000-7000-8000-' || lpad(to_hex(${expr}), 12, '0'))::uuid`

const pgStateExpr = (state: JobFixture["state"]) =>
  state === "mixed" ? `(ARRAY[${STATES.map((s) => `'${s}'`).join(", ")}])[1 + g % 10]` : `'${state}'`

/** Inserts jobs with one `INSERT ... SELECT FROM generate_series`. */
export const seedJobsPg = async (client: pg.Client, fixture: JobFixture): Promise<void> => {
  await client.query(
    `INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
       access_mode, safety_mode, job_inputs, created_at, updated_at)
     SELECT ${pgId(PREFIX.job, "g")}, ${pgId(PREFIX.trace, `g / ${fixture.jobsPerTrace}`)}, 'doc_summarize',
       ${pgStateExpr(fixture.state)}, 'hsk.bench.v1', 'Analyst', 'Analyst', 'analysis_only', 'normal',
       jsonb_build_object('n', g), t, t
     FROM (SELECT g, to_timestamp(($2::bigint + g) / 1000.0) AS t FROM generate_series(1, $1::int) AS g) AS s`,
    [fixture.count, fixture.startMs]
  )
}

/**
 * One `running` run per job g (ids from `seedJobsPg`), pointed at by its job;
 * every `staleEvery`-th run has a heartbeat at `staleMs`, the others at `freshMs`.
 */
export const seedRunsPg = async (
  client: pg.Client,
  options: { readonly count: number; readonly staleEvery: number; readonly staleMs: number; readonly freshMs: number }
): Promise<void> => {
  await client.query(
    `INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at)
     SELECT ${pgId(PREFIX.run, "g")}, ${pgId(PREFIX.job, "g")}, 'running',
       CASE WHEN g % $2::int = 0 THEN to_timestamp($3::bigint / 1000.0) ELSE to_timestamp($4::bigint / 1000.0) END,
       to_timestamp($3::bigint / 1000.0), to_timestamp($3::bigint / 1000.0)
     FROM generate_series(1, $1::int) AS g`,
    [options.count, options.staleEvery, options.staleMs, options.freshMs]
  )
  await client.query(`UPDATE ai_jobs AS j SET workflow_run_id = r.id FROM workflow_runs AS r WHERE r.job_id = j.id`)
}

/** Inserts `count` `system` events at `startMs + g ms`, with bodies shaped like real ones. */
export const seedEventsPg = async (client: pg.Client, options: { readonly count: number; readonly startMs: number; readonly offset?: number }): Promise<void> => {
  await client.query(
    `INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, body)
     SELECT id, t, 'system', 'system', tr, jb,
       jsonb_build_object('event_id', id, 'timestamp', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'actor', 'system', 'type', 'system', 'trace_id', tr, 'job_id', jb, 'from_state', 'queued', 'to_state', 'running')
     FROM (
       SELECT ${pgId(PREFIX.event, "g")} AS id, ${pgId(PREFIX.eventTrace, "g / 4")} AS tr, ${pgId(PREFIX.job, "g / 4")} AS jb,
         timestamptz 'epoch' + ($2::bigint + g) * interval '1 millisecond' AS t
       FROM generate_series(1 + $3::int, $1::int + $3::int) AS g
     ) AS s`,
    [options.count, options.startMs, options.offset ?? 0]
  )
}

// Either ---------------------------------------------------------------------

/** Loads jobs into `target` in one statement, then (PostgreSQL) refreshes planner statistics as autovacuum would after a bulk load. */
export const loadJobs = async (target: Target, fixture: JobFixture): Promise<void> => {
  if (target.dialect === "sqlite") {
    const db = openSqlite(target.filename)
    try {
      seedJobsSqlite(db, fixture)
    } finally {
      db.close()
    }
    return
  }
  const client = await connectPg(target.url)
  try {
    await seedJobsPg(client, fixture)
    await client.query("VACUUM ANALYZE ai_jobs")
  } finally {
    await client.end()
  }
}

// SQLite ---------------------------------------------------------------------

const sqliteId = (prefix: number, expr: string) => `printf('%08x-0000-7000-8000-%012x', ${prefix}, ${expr})`

/** The one stored time form, from epoch ms. */
const sqliteTime = (msExpr: string) => `strftime('%Y-%m-%dT%H:%M:%fZ', (${msExpr}) / 1000.0, 'unixepoch')`

const series = (countParam: string, offset = "0") =>
  `WITH RECURSIVE s(g) AS (SELECT 1 + ${offset} UNION ALL SELECT g + 1 FROM s WHERE g < ${countParam} + ${offset})`

const sqliteStateExpr = (state: JobFixture["state"]) =>
  state === "mixed" ? `CASE g % 10 ${STATES.map((s, i) => `WHEN ${i} THEN '${s}'`).join(" ")} END` : `'${state}'`

/** Inserts jobs with one `INSERT ... SELECT` over a recursive CTE. */
export const seedJobsSqlite = (db: SqliteDatabase, fixture: JobFixture): void => {
  db.prepare(
    `${series("@count")}
     INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
       access_mode, safety_mode, job_inputs, created_at, updated_at)
     SELECT ${sqliteId(PREFIX.job, "g")}, ${sqliteId(PREFIX.trace, `g / ${fixture.jobsPerTrace}`)}, 'doc_summarize',
       ${sqliteStateExpr(fixture.state)}, 'hsk.bench.v1', 'Analyst', 'Analyst', 'analysis_only', 'normal',
       json_object('n', g), ${sqliteTime("@start + g")}, ${sqliteTime("@start + g")}
     FROM s`
  ).run({ count: fixture.count, start: fixture.startMs })
}

/** SQLite twin of `seedRunsPg`. */
export const seedRunsSqlite = (
  db: SqliteDatabase,
  options: { readonly count: number; readonly staleEvery: number; readonly staleMs: number; readonly freshMs: number }
): void => {
  db.prepare(
    `${series("@count")}
     INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at)
     SELECT ${sqliteId(PREFIX.run, "g")}, ${sqliteId(PREFIX.job, "g")}, 'running',
       CASE WHEN g % @every = 0 THEN ${sqliteTime("@stale")} ELSE ${sqliteTime("@fresh")} END,
       ${sqliteTime("@stale")}, ${sqliteTime("@stale")}
     FROM s`
  ).run({ count: options.count, every: options.staleEvery, stale: options.staleMs, fresh: options.freshMs })
  db.exec(`UPDATE ai_jobs SET workflow_run_id = (SELECT r.id FROM workflow_runs AS r WHERE r.job_id = ai_jobs.id)`)
}

/** SQLite twin of `seedEventsPg`. */
export const seedEventsSqlite = (db: SqliteDatabase, options: { readonly count: number; readonly startMs: number; readonly offset?: number }): void => {
  db.prepare(
    `${series("@count", "@offset")}
     INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, job_id, body)
     SELECT id, t, 'system', 'system', tr, jb,
       json_object('event_id', id, 'timestamp', t, 'actor', 'system', 'type', 'system', 'trace_id', tr,
         'job_id', jb, 'from_state', 'queued', 'to_state', 'running')
     FROM (
       SELECT ${sqliteId(PREFIX.event, "g")} AS id, ${sqliteId(PREFIX.eventTrace, "g / 4")} AS tr,
         ${sqliteId(PREFIX.job, "g / 4")} AS jb, ${sqliteTime("@start + g")} AS t
       FROM s
     )`
  ).run({ count: options.count, start: options.startMs, offset: options.offset ?? 0 })
}

/** A job as `createJob` / `submit` receive it in every benchmark (and as the raw baselines insert it). */
export const NEW_JOB = {
  job_kind: "doc_summarize",
  protocol_id: "hsk.bench.v1",
  profile_id: "Analyst",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal",
  job_inputs: { doc: "bench" }
} as const

/** The zeroed metrics object, as stored. */
export const ZERO_METRICS = JSON.stringify({
  duration_ms: 0, total_tokens: 0, input_tokens: 0, output_tokens: 0, tokens_planner: 0,
  tokens_executor: 0, entities_read: 0, entities_written: 0, validators_run_count: 0
})

/**
 * A migrated database `claim_plan` on `cluster` holding the claim fixture
 * below, and an open client on it; `seconds` is how long loading took.
 */
export const claimQueueDatabase = async (cluster: BenchCluster) => {
  const url = await cluster.createDatabase("claim_plan")
  await migrateTarget({ dialect: "pg", url })
  const client = await connectPg(url)
  const started = Date.now()
  await seedClaimQueuePg(client)
  return { url, client, seconds: (Date.now() - started) / 1000 }
}

/**
 * The claim's plan fixture (claimPlan.ts, preparedStatements.ts): 1,000,000
 * queued jobs (priority −1..1, eligible times spread over the past day, a
 * tenth scheduled an hour ahead at the highest priority) and 1,000,000
 * completed ones, ANALYZEd.
 */
export const seedClaimQueuePg = async (client: pg.Client): Promise<void> => {
  const load = (count: number, status: string, extra: string) => client.query(`
    INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
                         access_mode, safety_mode, created_at, updated_at, run_after, priority)
    SELECT gen_random_uuid(), gen_random_uuid(),
           (ARRAY['doc_summarize','doc_edit','terminal_exec','workflow_run'])[1 + i % 4],
           '${status}', 'bench.v1', 'bench', 'Analyst', 'analysis_only', 'normal',
           now() - interval '1 day' + i * interval '80 milliseconds', now(), ${extra}
    FROM generate_series(1, ${count}) AS i`)
  await load(1_000_000, "queued", `CASE WHEN i % 10 = 0 THEN now() + interval '1 hour' ELSE now() - interval '1 day' + i * interval '80 milliseconds' END,
           CASE WHEN i % 10 = 0 THEN 2 ELSE (i % 3) - 1 END`)
  await load(1_000_000, "completed", "now() - interval '2 days', 0")
  await client.query("ANALYZE ai_jobs")
}
