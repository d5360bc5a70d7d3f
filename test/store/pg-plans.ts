/**
 * The plans of the statements the PostgreSQL store really sends (issue 16,
 * h61): each statement is read off the real `pg` driver as the store hands
 * it over (`Client.prototype.query` wrapped, nothing mocked), then prepared
 * again on a plain connection and explained the two ways the server plans the
 * store's named statements — a custom plan (their first five executions) and
 * the generic one (after).
 */
import { assert } from "@effect/vitest"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { createRequire } from "node:module"
import type { Jobs } from "../../src/Jobs.js"
import type { PgClient } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const require = createRequire(import.meta.url)
const pg = require("pg") as { readonly Client: { readonly prototype: { query: Query } } }
/** pg's own conversion of a parameter to the text it sends. */
const { prepareValue } = require("pg/lib/utils") as { readonly prepareValue: (value: unknown) => string | null }

/** A parameter as a SQL literal of unknown type (EXECUTE takes no parameters of its own). */
const literal = (value: unknown): string => {
  const text = prepareValue(value)
  return text === null ? "NULL" : `'${text.replaceAll("'", "''")}'`
}

export interface Sent {
  readonly text: string
  readonly values: ReadonlyArray<unknown>
}

/** `effect`, and every parameterised statement `pg` sent while it ran. */
export const sentStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = pg.Client.prototype
      const original = proto.query
      const sent: Array<Sent> = []
      proto.query = function(this: object, ...args: Array<unknown>) {
        const [config, values] = args
        const query = typeof config === "string"
          ? { text: config, values: values as ReadonlyArray<unknown> | undefined }
          : config as { readonly text: string; readonly values?: ReadonlyArray<unknown> }
        if (query.values !== undefined && query.values.length > 0) sent.push({ text: query.text, values: query.values })
        return original.apply(this, args)
      }
      return { proto, original, sent }
    }),
    ({ sent }) => Effect.map(effect, (value) => ({ value, sent })),
    ({ original, proto }) => Effect.sync(() => {
      proto.query = original
    })
  )

/** The statements of `sent` that `marker` names. */
export const named = (sent: ReadonlyArray<Sent>, marker: RegExp): ReadonlyArray<Sent> =>
  sent.filter((statement) => marker.test(statement.text))

/** The one statement of `sent` that `marker` names (`step` says whose, when there is not exactly one). */
export const theOne = (sent: ReadonlyArray<Sent>, marker: RegExp, step: string): Sent => {
  const found = named(sent, marker)
  assert.strictEqual(found.length, 1, `${step}: one statement ${marker}; sent:\n${sent.map((s) => s.text.slice(0, 80)).join("\n")}`)
  return found[0]!
}

export type PlanMode = "force_custom_plan" | "force_generic_plan"
export const planModes: ReadonlyArray<PlanMode> = ["force_custom_plan", "force_generic_plan"]

/**
 * The plan of `statement` prepared afresh on `client` and explained under
 * `mode`; with `analyze`, run (in a transaction rolled back) and explained
 * with what each node read: `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)`.
 */
export const planOf = (client: PgClient, statement: Sent, mode: PlanMode, analyze = false) =>
  Effect.promise(async () => {
    await client.query(`SET plan_cache_mode = ${mode}`)
    await client.query("DEALLOCATE ALL")
    await client.query(`PREPARE explained AS ${statement.text}`)
    if (analyze) await client.query("BEGIN")
    try {
      const { rows } = await client.query<{ readonly "QUERY PLAN": string }>(
        `EXPLAIN ${analyze ? "(ANALYZE, BUFFERS, COSTS OFF) " : ""}EXECUTE explained(${statement.values.map(literal).join(", ")})`
      )
      return rows.map((row) => row["QUERY PLAN"]).join("\n")
    } finally {
      if (analyze) await client.query("ROLLBACK")
    }
  })

/**
 * The rows an analyzed `plan` (planOf's `analyze`) read from `table`: each
 * scan's rows, and those its filter or recheck removed, over all its loops.
 */
export const rowsRead = (plan: string, table: string): number => {
  let total = 0
  let loops = 0
  for (const line of plan.split("\n")) {
    const scan = new RegExp(`Scan(?: Backward)?(?: using \\S+)? on ${table}\\b.*\\(actual time=\\S+ rows=(\\d+) loops=(\\d+)\\)`).exec(line)
    if (scan !== null) {
      loops = Number(scan[2])
      total += Number(scan[1]) * loops
      continue
    }
    // A line of another node ends the scan's details.
    if (/->|^\S/.test(line)) loops = 0
    const removed = /Rows Removed by (?:Filter|Index Recheck): (\d+)/.exec(line)
    if (removed !== null) total += Number(removed[1]) * loops
  }
  return total
}

/** Every scan of a table in `plan`, in plan order: "Index Scan using <index> on <table>", "Seq Scan on <table>", ... */
export const tableScans = (plan: string): ReadonlyArray<string> =>
  [...plan.matchAll(/((?:Bitmap Heap|Seq|Index Only|Index|Bitmap Index|Tid) Scan(?: Backward)?)(?: using (\S+))? on (\S+)/g)]
    .map((match) => `${match[1]}${match[2] === undefined ? "" : ` using ${match[2]}`} on ${match[3]}`)

/** Where a crowd's ids of each kind of row start: running jobs, their runs, queued jobs not yet due. */
const crowdPrefix = { running: "00000000-0000-7000-8000-", run: "00000000-0000-7000-9000-", waiting: "00000000-0000-7000-a000-" }

/** The i-th (from 1) id of a crowd's `kind` of row. */
export const crowdId = (kind: keyof typeof crowdPrefix, i: number): string => `${crowdPrefix[kind]}${i.toString(16).padStart(12, "0")}`

/**
 * Statistics that know no crowd: autovacuum off on the hot tables (nothing
 * refreshes them later), a few lifecycles run to the end (the subject
 * admitted, the claim memo warm), then ANALYZE — before `makeCrowd`.
 */
export const staleStatistics = (
  client: PgClient,
  jobs: Pick<Context.Tag.Service<Jobs>, "submit" | "claimNext" | "complete">
) =>
  Effect.gen(function*() {
    for (const table of ["ai_jobs", "workflow_runs", "flight_recorder_events"]) {
      yield* Effect.promise(() => client.query(`ALTER TABLE ${table} SET (autovacuum_enabled = off)`))
    }
    for (let i = 0; i < 5; i++) {
      yield* jobs.submit(newJob())
      const claim = yield* jobs.claimNext()
      assert.isNotNull(claim)
      yield* jobs.complete(claim!.job.job_id)
    }
    yield* Effect.promise(() => client.query("ANALYZE"))
  })

/**
 * The crowd that makes a database adversarial to key lookups guarded by
 * status: `running` jobs under running runs with three records each, each
 * run beaten three times since (dead versions in the run indexes), and
 * `waiting` queued jobs due in
 * 2100 (in the status and queue indexes, never claimed). Take statistics
 * before, and they know none of it.
 */
export const makeCrowd = (client: PgClient, crowd: { readonly running: number; readonly waiting: number }) =>
  Effect.promise(async () => {
    const ids = (kind: keyof typeof crowdPrefix) => `('${crowdPrefix[kind]}' || lpad(to_hex(i), 12, '0'))::uuid`
    const job = (kind: "running" | "waiting", count: number, runAfter: string) =>
      client.query(`
        INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
                             access_mode, safety_mode, created_at, updated_at, run_after)
        SELECT ${ids(kind)}, gen_random_uuid(), 'doc_summarize', 'queued',
               'p', 'u', 'Analyst', 'analysis_only', 'normal', timestamptz '2026-01-01', timestamptz '2026-01-01', timestamptz '${runAfter}'
        FROM generate_series(1, ${count}) AS i`)
    await job("running", crowd.running, "2026-01-01")
    await client.query(`
      INSERT INTO workflow_runs (id, job_id, status, last_heartbeat, created_at, updated_at)
      SELECT ${ids("run")}, ${ids("running")}, 'running',
             timestamptz '2026-06-01', timestamptz '2026-01-01', timestamptz '2026-01-01'
      FROM generate_series(1, ${crowd.running}) AS i`)
    await client.query(`UPDATE ai_jobs j SET status = 'running', workflow_run_id = r.id FROM workflow_runs r WHERE r.job_id = j.id`)
    // Their histories: three records each, so the job index of the log is the way to a job's latest record.
    await client.query(`
      INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
      SELECT gen_random_uuid(), timestamptz '2026-01-01' + k * interval '1 second', 'system', 'system',
             gen_random_uuid(), ${ids("running")}, NULL, '{}'::jsonb
      FROM generate_series(1, ${crowd.running}) AS i, generate_series(1, 3) AS k`)
    // And their node histories: two finished nodes each, so a move's look for a run's open nodes has rows to find by key.
    await client.query(`
      INSERT INTO workflow_node_executions (id, workflow_run_id, node_id, node_type, status, sequence, input_payload,
                                            output_payload, started_at, finished_at)
      SELECT gen_random_uuid(), ${ids("run")}, 'n' || k, 'step', 'completed', k, '{}'::jsonb, '{}'::jsonb,
             timestamptz '2026-01-01', timestamptz '2026-01-01'
      FROM generate_series(1, ${crowd.running}) AS i, generate_series(1, 2) AS k`)
    for (let beat = 1; beat <= 3; beat++) {
      await client.query(`UPDATE workflow_runs SET last_heartbeat = last_heartbeat + interval '${beat} second'`)
    }
    await job("waiting", crowd.waiting, "2100-01-01")
  })
