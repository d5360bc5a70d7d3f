/**
 * Issue 16's Must on PostgreSQL: the metrics rule (R4: nine counters, each an
 * integer in range) stays the database's own, but as a trigger that runs only
 * when a job is inserted or its metrics change (migration 0012), not as a
 * CHECK PostgreSQL evaluates on every write of every column.
 *
 * A new row whose metrics are the zero counters — every job a submit creates —
 * skips the rule (migration 0014: the INSERT trigger's WHEN compares it with
 * the zero object first): such a row passes the rule anyway.
 *
 * Whether the rule ran is counted, not timed: with `track_functions = 'pl'`
 * PostgreSQL counts each call of `ai_job_metrics_valid` (the rule's PL/pgSQL
 * body, which the CHECK called too) in pg_stat_user_functions. The store and
 * the test share one connection, so the count is exact: a backend flushes its
 * counts before it answers the statement after `pg_stat_force_next_flush()`.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { MetricNames } from "../../src/domain/JobMetrics.js"
import type { JobId } from "../../src/domain/Ids.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { buildReferencePg } from "../fixtures/referenceDatabase.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { at, expectTag, failureOf, newJob } from "./fixtures.js"
import { refusalOf } from "./pg-support.js"
import { shippedFrom } from "./contract/schema.js"

const zero = Object.fromEntries(MetricNames.map((name) => [name, 0]))
/** The zero counters as PostgreSQL prints a jsonb (keys by length, then bytes). */
const ZERO_TEXT = JSON.stringify(Object.fromEntries(
  [...MetricNames].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)).map((name) => [name, 0])
)).replace(/,/g, ", ").replace(/:/g, ": ")

/** The store and a raw client over one shared connection, with function calls counted on it. */
const countedStore = (label: string) =>
  Layer.unwrapScoped(Effect.map(freshPgDatabase(label), (url) =>
    Layer.effectDiscard(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql`SET track_functions = 'pl'`)).pipe(
        Layer.provideMerge(PgStore.layerFromClient()),
        // One connection that is never closed for idleness: every statement of the test runs on it.
        Layer.provideMerge(PgClient.layer({
          url: Redacted.make(url),
          transformJson: false,
          maxConnections: 1,
          idleTimeout: Duration.minutes(30)
        }))
      )))

/** How many times the metrics rule has run on this database so far. */
const ruleCalls = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`SELECT pg_stat_force_next_flush()`
  const [row] = yield* sql<{ readonly n: number }>`
    SELECT coalesce(sum(calls), 0)::int AS n FROM pg_stat_user_functions WHERE funcname = 'ai_job_metrics_valid'`
  return row?.n ?? 0
})

/** Runs `write`: what it returned, and how many times the metrics rule ran meanwhile. */
const counted = <A, E, R>(write: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = yield* ruleCalls
    const value = yield* write
    return { value, runs: (yield* ruleCalls) - before }
  })

/** How many times the metrics rule ran during `write`. */
const ruleRunsDuring = <A, E, R>(write: Effect.Effect<A, E, R>) => Effect.map(counted(write), ({ runs }) => runs)

/** The metrics rule's place in the schema: its CHECK (if any) and its triggers. */
const ruleShape = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const checks = yield* sql<{ readonly conname: string }>`
    SELECT conname FROM pg_constraint WHERE conrelid = 'ai_jobs'::regclass AND conname = 'ai_jobs_metrics_check'`
  const triggers = yield* sql<{ readonly def: string }>`
    SELECT pg_get_triggerdef(oid) AS def FROM pg_trigger
    WHERE tgrelid = 'ai_jobs'::regclass AND tgname LIKE 'ai_jobs_metrics_check%' ORDER BY tgname`
  return { checks: checks.map((c) => c.conname), triggers: triggers.map((t) => t.def) }
})

const migratedShape = {
  checks: [],
  triggers: [
    `CREATE TRIGGER ai_jobs_metrics_check_insert BEFORE INSERT ON public.ai_jobs FOR EACH ROW WHEN ((new.metrics IS DISTINCT FROM '${ZERO_TEXT}'::jsonb)) EXECUTE FUNCTION ai_jobs_metrics_check()`,
    "CREATE TRIGGER ai_jobs_metrics_check_update BEFORE UPDATE OF metrics ON public.ai_jobs FOR EACH ROW WHEN ((old.metrics IS DISTINCT FROM new.metrics)) EXECUTE FUNCTION ai_jobs_metrics_check()"
  ]
}

describe("issue 16 PostgreSQL: the metrics rule runs only when metrics are written (migration 0012)", () => {
  it.effect("issue 16 the store's writes that keep metrics (run, move, heartbeat, pin, recovery) never run the metrics rule, nor does a create with the zero counters (0014); a create with other counters and a metrics change run it once", () =>
    Effect.gen(function*() {
      const store = yield* JobStore
      const { runs, value: job } = yield* counted(store.createJob(newJob()))
      assert.deepStrictEqual({ ...job.metrics }, zero)
      assert.strictEqual(runs, 0, "a create with the zero counters skips the rule (it passes it)")
      // A new job always starts at zero through the store: other counters come from a raw INSERT.
      const sql = yield* SqlClient.SqlClient
      const insertWith = (metrics: unknown) =>
        sql`
          INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at, metrics)
          VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'hsk.test.v0', 'default', 'Analyst', 'analysis_only', 'normal', now(), now(), ${JSON.stringify(metrics)}::jsonb)`
      assert.strictEqual(yield* ruleRunsDuring(insertWith({ ...zero, total_tokens: 3 })), 1, "a create with other counters checks the new row")
      const run = yield* store.createRun(job.job_id)
      const keeping: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
        ["the move to running", store.transition({ job_id: job.job_id, to: "running", workflow_run_id: run.id })],
        ["a heartbeat", store.heartbeat(run.id)],
        ["a pin", store.setPinned(job.job_id, true)],
        ["a patch writing the same metrics", store.updateJob(job.job_id, { metrics: job.metrics, status_reason: "same counters" })],
        ["recovery's stall", store.stallStaleRuns({ heartbeatBefore: at(Date.now() + 3_600_000), threshold: Duration.seconds(30), limit: 10, recordRecovery: true })]
      ]
      for (const [what, write] of keeping) assert.strictEqual(yield* ruleRunsDuring(write), 0, `${what} does not run the rule`)
      assert.strictEqual((yield* store.getJob(job.job_id)).state, "stalled", "the writes really happened")
      const other = yield* store.createJob(newJob())
      const changed = store.updateJob(other.job_id, { metrics: { ...other.metrics, total_tokens: 7 } })
      assert.strictEqual(yield* ruleRunsDuring(changed), 1, "a metrics change checks it")
    }).pipe(Effect.provide(countedStore("metrics rule store writes"))), 60_000)

  it.effect("issue 16 a raw UPDATE that keeps metrics (other columns, or metrics set to the same value) does not run the rule; one that changes them does", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const job = yield* (yield* JobStore).createJob(newJob())
      for (const set of ["status_reason = 'x', updated_at = now()", "metrics = metrics", `metrics = '${JSON.stringify(zero)}'::jsonb`]) {
        assert.strictEqual(yield* ruleRunsDuring(sql.unsafe(`UPDATE ai_jobs SET ${set} WHERE id = '${job.job_id}'`)), 0, set)
      }
      const change = sql.unsafe(`UPDATE ai_jobs SET metrics = metrics || '{"entities_read": 3}' WHERE id = '${job.job_id}'`)
      assert.strictEqual(yield* ruleRunsDuring(change), 1)
    }).pipe(Effect.provide(countedStore("metrics rule raw writes"))), 60_000)

  it.effect("R4 invalid metrics are still refused by the database on INSERT and on UPDATE (23514 naming ai_jobs_metrics_check), changing nothing", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const job = yield* (yield* JobStore).createJob(newJob())
      const rowOf = sql<{ readonly metrics: unknown }>`SELECT metrics FROM ai_jobs WHERE id = ${job.job_id}`
      const before = yield* rowOf
      for (const bad of [{ ...zero, total_tokens: -1 }, { ...zero, input_tokens: 1.5 }, [zero], {}]) {
        const update = yield* refusalOf(sql`UPDATE ai_jobs SET metrics = ${JSON.stringify(bad)}::jsonb WHERE id = ${job.job_id}`)
        assert.deepStrictEqual([update.code, update.constraint], ["23514", "ai_jobs_metrics_check"], update.message)
        assert.match(update.message, /violates check constraint "ai_jobs_metrics_check"/)
        const insert = yield* refusalOf(sql`
          INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at, metrics)
          VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'hsk.test.v0', 'default', 'Analyst', 'analysis_only', 'normal', now(), now(), ${JSON.stringify(bad)}::jsonb)`)
        assert.deepStrictEqual([insert.code, insert.constraint], ["23514", "ai_jobs_metrics_check"], insert.message)
      }
      assert.deepStrictEqual(yield* rowOf, before, "the refused updates changed nothing")
      const [count] = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM ai_jobs`
      assert.strictEqual(count?.n, 1, "the refused inserts added no row")
      // NULL stays the column's NOT NULL refusal, as with the CHECK.
      assert.strictEqual((yield* refusalOf(sql`UPDATE ai_jobs SET metrics = NULL WHERE id = ${job.job_id}`)).code, "23502")
      // Valid values still pass, the limits included.
      const limits = { ...zero, duration_ms: Number.MAX_SAFE_INTEGER, total_tokens: 4_294_967_295, extra: "kept" }
      yield* sql`UPDATE ai_jobs SET metrics = ${JSON.stringify(limits)}::jsonb WHERE id = ${job.job_id}`
      assert.deepStrictEqual((yield* rowOf)[0]?.metrics, limits)
    }).pipe(Effect.provide(countedStore("metrics rule refusals"))), 60_000)
})

describe("issue 16 PostgreSQL migration 0014: a new row at the zero counters skips the rule, and nothing else does", () => {
  it.effect("R4 an INSERT whose metrics equal the zero object (any key order, 0.0, -0) passes without the rule; one next to it (a key missing, a string, a null, a fraction, -1) is still refused with 23514; an extra key runs the rule and passes", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const insertText = (metrics: string) =>
        sql`
          INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id, access_mode, safety_mode, created_at, updated_at, metrics)
          VALUES (gen_random_uuid(), gen_random_uuid(), 'doc_edit', 'queued', 'hsk.test.v0', 'default', 'Analyst', 'analysis_only', 'normal', now(), now(), ${metrics}::jsonb)`
      const reversed = Object.fromEntries([...MetricNames].reverse().map((name) => [name, 0]))
      const equalToZero = [
        JSON.stringify(reversed),
        JSON.stringify(zero).replace(/: ?0/g, ": 0.0"),
        JSON.stringify(zero).replace(/"total_tokens":0/, "\"total_tokens\":-0")
      ]
      for (const metrics of equalToZero) assert.strictEqual(yield* ruleRunsDuring(insertText(metrics)), 0, metrics)
      const { duration_ms: _, ...missing } = zero
      const nextToZero = [missing, { ...zero, total_tokens: "0" }, { ...zero, input_tokens: null }, { ...zero, entities_read: 0.5 }, { ...zero, output_tokens: -1 }]
      for (const bad of nextToZero) {
        const refusal = yield* refusalOf(insertText(JSON.stringify(bad)))
        assert.deepStrictEqual([refusal.code, refusal.constraint], ["23514", "ai_jobs_metrics_check"], JSON.stringify(bad))
      }
      assert.strictEqual(yield* ruleRunsDuring(insertText(JSON.stringify({ ...zero, note: "kept" }))), 1, "an extra key is not the zero object: the rule runs, and passes it")
      const [count] = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM ai_jobs`
      assert.strictEqual(count?.n, equalToZero.length + 1, "exactly the accepted rows were written")
    }).pipe(Effect.provide(countedStore("metrics rule zero skip"))), 60_000)
})

describe("issue 16 PostgreSQL migration 0012: the metrics CHECK becomes the metrics triggers", () => {
  const onDatabase = (url: string) => Layer.merge(PgStore.layer({ url }), rawPgClient(url))

  it.effect("issue 16 a fresh database gets the triggers and no CHECK; a reference database upgraded in place too", () =>
    Effect.scoped(Effect.gen(function*() {
      const fresh = yield* freshPgDatabase("metrics rule fresh")
      assert.deepStrictEqual(yield* Effect.provide(ruleShape, onDatabase(fresh)), migratedShape)
      const legacy = yield* freshPgDatabase("metrics rule legacy")
      yield* Effect.provide(buildReferencePg, rawPgClient(legacy))
      assert.deepStrictEqual(yield* Effect.provide(ruleShape, onDatabase(legacy)), migratedShape)
    })), 60_000)

  /**
   * On a migrated database with one job: takes 0012 back out (its triggers and
   * its bookkeeping row, so the next migrate runs it again), lets `meanwhile`
   * change the schema or the job without the rule, then runs `check`.
   */
  const before0012 = <E>(label: string, meanwhile: (jobId: JobId) => string, check: (jobId: JobId) => Effect.Effect<void, E, JobStore | SqlClient.SqlClient>) =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase(label)
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const job = yield* (yield* JobStore).createJob(newJob())
        yield* sql`DROP TRIGGER ai_jobs_metrics_check_insert ON ai_jobs`
        yield* sql`DROP TRIGGER ai_jobs_metrics_check_update ON ai_jobs`
        yield* sql.unsafe(meanwhile(job.job_id))
        // 0014 rewrote the INSERT trigger dropped above: it runs again after 0012 (the Migrator runs only ids above the highest
        // applied, so every later one goes too: 0015 to 0017, replay-safe, find their work done).
        yield* sql`DELETE FROM ai_job_model_migrations WHERE migration_id = 12 OR migration_id >= 14`
        yield* check(job.job_id)
      }).pipe(Effect.provide(onDatabase(url)))
    }))

  it.effect("issue 16 a database at 0011 (the CHECK in place, rows valid) upgrades: 0012 (then every later one) runs, rows kept, the rule still refuses", () =>
    // The schema before 0012: the CHECK as 0002 added it.
    before0012("metrics rule at 0011", () => "ALTER TABLE ai_jobs ADD CONSTRAINT ai_jobs_metrics_check CHECK (ai_job_metrics_valid(metrics))", (jobId) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        assert.deepStrictEqual((yield* PgStore.migrate).map(([id]) => id), shippedFrom("pg", 12))
        assert.deepStrictEqual(yield* ruleShape, migratedShape)
        assert.strictEqual((yield* (yield* JobStore).getJob(jobId)).job_id, jobId)
        const refusal = yield* refusalOf(sql`UPDATE ai_jobs SET metrics = '{}'::jsonb WHERE id = ${jobId}`)
        assert.strictEqual(refusal.constraint, "ai_jobs_metrics_check")
      })), 60_000)

  it.effect("issue 16 a row that broke the rule while it was off fails 0012 (MigrationFailed) and the database stays as it was", () =>
    before0012("metrics rule bad row", (jobId) => `UPDATE ai_jobs SET metrics = metrics || '{"total_tokens": -5}' WHERE id = '${jobId}'`, (jobId) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const error = expectTag(yield* failureOf(PgStore.migrate), "MigrationFailed")
        assert.strictEqual(error.migration_id, 12)
        assert.deepStrictEqual(yield* ruleShape, { checks: [], triggers: [] }, "nothing of 0012 stayed")
        const [row] = yield* sql<{ readonly tokens: number }>`SELECT (metrics ->> 'total_tokens')::int AS tokens FROM ai_jobs WHERE id = ${jobId}`
        assert.strictEqual(row?.tokens, -5, "the row is left for its owner to fix")
      })), 60_000)
})
