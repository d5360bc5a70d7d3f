/**
 * Issue 15.1/15.2, migration 0007 on both dialects: a job's attempt, its
 * maximum attempts, its next eligible time (`run_after`) and its priority are
 * columns; a legacy reference database upgrades in place (one attempt of one,
 * eligible since it was created, priority 0); the database itself refuses
 * values out of range; and the claim's query reads the partial claim index.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgStore from "../../src/store/PgStore.js"
import { buildReferencePg, referenceCounts, writeReferenceSqlite } from "../fixtures/referenceDatabase.js"
import { startedJob } from "./fixtures.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { refusalOf } from "./pg-support.js"
import { rawNumber, rawRows, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** Each value the database must refuse, as `SET` clauses on a stored job. */
const refusedUpdates = {
  sqlite: [
    "attempt = 0", "attempt = 1.5", "attempt = 'two'", "max_attempts = 0", "max_attempts = 1000001",
    "priority = 32768", "priority = -32769", "priority = 0.5", "run_after = 'tomorrow'",
    "run_after = '2026-02-30T00:00:00.000Z'", "run_after = NULL", "priority = NULL"
  ],
  pg: [
    "attempt = 0", "max_attempts = 0", "max_attempts = 1000001", "priority = 32768", "priority = -32769",
    "run_after = '1969-12-31T23:59:59Z'", "run_after = NULL", "priority = NULL", "attempt = NULL"
  ]
} as const

/**
 * The claim's job lookup, as the stores spell it (the index's columns, in its
 * order). SQLite names its index: without statistics its planner prefers an
 * equality on `status` and a sort, which reads every queued job per claim.
 */
const claimLookup = (now: string, indexedBy = "") =>
  `SELECT id FROM ai_jobs ${indexedBy} WHERE status = 'queued' AND run_after <= ${now}
   ORDER BY priority DESC, run_after, created_at, id LIMIT 1`

describe("issue 15 migration 0007: attempts, schedule and priority are columns", () => {
  it.effect("issue 15.1 SQLite: a reference database upgrades in place — one attempt of one, eligible since created, priority 0", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("reference.db")
      yield* writeReferenceSqlite(filename)
      yield* Effect.gen(function*() {
        assert.strictEqual(yield* rawNumber("SELECT count(*) AS n FROM ai_jobs"), referenceCounts.ai_jobs)
        assert.strictEqual(
          yield* rawNumber(`SELECT count(*) AS n FROM ai_jobs
            WHERE attempt = 1 AND max_attempts = 1 AND priority = 0 AND run_after = created_at`),
          referenceCounts.ai_jobs
        )
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))

  it.effect("issue 15.1 SQLite: the database refuses an attempt, a maximum or a priority out of range and a malformed run-after time", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.gen(function*() {
        const { job } = yield* startedJob()
        const before = yield* rawRows(`SELECT * FROM ai_jobs WHERE id = ?`, [job.job_id])
        for (const set of refusedUpdates.sqlite) {
          const result = yield* Effect.either(rawRows(`UPDATE ai_jobs SET ${set} WHERE id = ?`, [job.job_id]))
          assert.strictEqual(result._tag, "Left", `refused: ${set}`)
        }
        assert.deepStrictEqual(yield* rawRows(`SELECT * FROM ai_jobs WHERE id = ?`, [job.job_id]), before)
        yield* rawRows(`UPDATE ai_jobs SET attempt = 3, max_attempts = 5, priority = -32768, run_after = '9999-12-31T23:59:59.999Z' WHERE id = ?`, [job.job_id])
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))

  it.effect("issue 15.2 SQLite: the claim's lookup reads the partial claim index in order: no other index, no sort", () =>
    Effect.scoped(Effect.gen(function*() {
      const filename = yield* tempDatabaseFile()
      yield* Effect.gen(function*() {
        const plan = yield* rawRows<{ readonly detail: string }>(
          `EXPLAIN QUERY PLAN ${claimLookup("'2026-01-01T00:00:00.000Z'", "INDEXED BY ai_jobs_by_claim")}`
        )
        const details = plan.map((row) => row.detail).join("\n")
        assert.match(details, /USING (COVERING )?INDEX ai_jobs_by_claim\b/, details)
        assert.notMatch(details, /USE TEMP B-TREE/, "the index gives the order: no sort")
      }).pipe(Effect.provide(storeWithClient(filename)))
    })))

  const onDatabase = (url: string) => Layer.merge(PgStore.layer({ url }), rawPgClient(url))

  it.effect("issue 15.1 PostgreSQL: a reference database upgrades in place — one attempt of one, eligible since created, priority 0", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("0007 reference")
      yield* Effect.provide(buildReferencePg, rawPgClient(url))
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ readonly all: string; readonly upgraded: string }>`
          SELECT count(*) AS all,
                 count(*) FILTER (WHERE attempt = 1 AND max_attempts = 1 AND priority = 0 AND run_after = created_at) AS upgraded
          FROM ai_jobs`
        assert.strictEqual(Number(row?.all), referenceCounts.ai_jobs)
        assert.strictEqual(Number(row?.upgraded), referenceCounts.ai_jobs)
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)

  it.effect("issue 15.1 PostgreSQL: the database refuses an attempt, a maximum or a priority out of range and a run-after time before 1970", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("0007 checks")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { job } = yield* startedJob()
        const snapshot = sql`SELECT to_jsonb(j)::text AS row FROM ai_jobs j WHERE id = ${job.job_id}`
        const before = yield* snapshot
        for (const set of refusedUpdates.pg) {
          const refusal = yield* refusalOf(sql.unsafe(`UPDATE ai_jobs SET ${set} WHERE id = $1`, [job.job_id]))
          assert.include(["23514", "23502"], refusal.code, `refused: ${set}`)
        }
        assert.deepStrictEqual(yield* snapshot, before)
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)

  it.effect("issue 15.2 PostgreSQL: among 20,000 jobs, 2,000 queued, the claim's lookup is an index scan of the partial claim index, no sort", () =>
    Effect.scoped(Effect.gen(function*() {
      const url = yield* freshPgDatabase("0007 plan")
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe(`
          INSERT INTO ai_jobs (id, trace_id, job_kind, status, protocol_id, profile_id, capability_profile_id,
                               access_mode, safety_mode, created_at, updated_at, run_after, priority)
          SELECT gen_random_uuid(), gen_random_uuid(), 'doc_summarize',
                 CASE WHEN i % 10 = 0 THEN 'queued' ELSE 'completed' END,
                 'p', 'u', 'Analyst', 'analysis_only', 'normal',
                 timestamptz '2026-01-01' + i * interval '1 second', timestamptz '2026-01-01' + i * interval '1 second',
                 timestamptz '2026-01-01' + i * interval '1 second', i % 3
          FROM generate_series(1, 20000) AS i`)
        yield* sql.unsafe("ANALYZE ai_jobs")
        const plan = yield* sql.unsafe<{ readonly "QUERY PLAN": string }>(
          `EXPLAIN ${claimLookup("timestamptz '2026-06-01'")} FOR UPDATE SKIP LOCKED`
        )
        const text = plan.map((row) => row["QUERY PLAN"]).join("\n")
        assert.match(text, /Index Scan using ai_jobs_claim_idx/, text)
        assert.notMatch(text, /Sort|Seq Scan/, text)
      }).pipe(Effect.provide(onDatabase(url)))
    })), 60_000)
})
