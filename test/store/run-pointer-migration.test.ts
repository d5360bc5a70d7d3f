/**
 * Migration 0030 on both dialects (R6, R9, R16): a job's workflow_run_id names
 * one of its own runs. Raw SQL pointing a job at another job's run, or giving
 * a pointed-at run to another job, is refused by the database under
 * ai_jobs_workflow_run_of_job, in one message on both dialects naming the
 * ids (the port's refusal: contract/lifecycle.ts). A
 * database an earlier version left holding such a pointer is refused by 0030
 * naming the job, nothing changed, and applies once the pointer is fixed.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgStore from "../../src/store/PgJobStore.js"
import { migrateFrom, migrationsDirectory } from "../../src/store/sqlite/migrations.js"
import type { MigrationFailed, StorageError } from "../../src/store/StoreErrors.js"
import { freshPgDatabase, rawPgClient } from "../support/pg-database.js"
import { shippedFrom } from "./contract/schema.js"
import { expectTag, failureOf, ids, pointedAtOther, startedJob } from "./fixtures.js"
import { refusalOf } from "./pg-support.js"
import { rawClient, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** Undoes 0030, as an earlier version left the database: its triggers gone, its bookkeeping row too. */
const before0030 = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({
    pg: () =>
      Effect.all([
        sql`DROP TRIGGER ai_jobs_workflow_run_of_job_insert ON ai_jobs`,
        sql`DROP TRIGGER ai_jobs_workflow_run_of_job_update ON ai_jobs`,
        sql`DROP TRIGGER workflow_runs_job_of_pointer ON workflow_runs`,
        sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 30`
      ], { discard: true }),
    orElse: () =>
      Effect.all([
        sql`DROP TRIGGER ai_jobs_workflow_run_of_job_insert`,
        sql`DROP TRIGGER ai_jobs_workflow_run_of_job_update`,
        sql`DROP TRIGGER workflow_runs_job_of_pointer`,
        sql`DELETE FROM ai_job_model_migrations WHERE migration_id >= 30`
      ], { discard: true })
  })

/** Inserts a copy of job `job_id` as job `copy`, pointing at `run` (the insert trigger's case). */
const copyPointingAt = (sql: SqlClient.SqlClient, job_id: string, copy: string, run: string) =>
  sql.withTransaction(Effect.all([
    sql`CREATE TEMP TABLE job_copy AS SELECT * FROM ai_jobs WHERE id = ${job_id}`,
    sql`UPDATE job_copy SET id = ${copy}, workflow_run_id = ${run}`,
    sql`INSERT INTO ai_jobs SELECT * FROM job_copy`
  ], { discard: true }))

/**
 * The scenario on a database the store made (two jobs, each running under its own run), through
 * the raw client, migrating with `migrate`.
 */
const scenario = (
  dialect: "sqlite" | "pg",
  jobs: { readonly a: { readonly job_id: string; readonly run: string }; readonly b: { readonly job_id: string; readonly run: string } },
  migrate: Effect.Effect<ReadonlyArray<readonly [number, string]>, MigrationFailed | StorageError, SqlClient.SqlClient>
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { a, b } = jobs
    const pointer = () => Effect.map(sql<{ readonly workflow_run_id: string }>`SELECT workflow_run_id FROM ai_jobs WHERE id = ${a.job_id}`, ([row]) => row?.workflow_run_id)
    const refused = (statement: Effect.Effect<unknown, unknown>) =>
      Effect.map(Effect.flip(statement), (error) => String((error as { readonly cause?: { readonly message?: unknown } }).cause?.message))
    // The database refuses a pointer at another job's run (set, or inserted with a copy of the job),
    // and a pointed-at run given to another job: one message on both dialects, naming the ids.
    assert.strictEqual(yield* refused(sql`UPDATE ai_jobs SET workflow_run_id = ${b.run} WHERE id = ${a.job_id}`), pointedAtOther(a.job_id, b.run, b.job_id))
    const copy = ids.job()
    assert.strictEqual(yield* refused(copyPointingAt(sql, a.job_id, copy, b.run)), pointedAtOther(copy, b.run, b.job_id))
    assert.strictEqual(
      yield* refused(sql`UPDATE workflow_runs SET job_id = ${b.job_id} WHERE id = ${a.run}`),
      `ai_jobs_workflow_run_of_job: job "${a.job_id}"'s workflow_run_id names workflow run "${a.run}", which would be job "${b.job_id}"'s run, not its own`
    )
    assert.deepStrictEqual(yield* sql`SELECT id FROM ai_jobs WHERE id = ${copy}`, [], "the copy was not inserted")
    if (dialect === "pg") {
      const refusal = yield* refusalOf(sql`UPDATE ai_jobs SET workflow_run_id = ${b.run} WHERE id = ${a.job_id}`)
      assert.deepStrictEqual([refusal.code, refusal.constraint], ["23503", "ai_jobs_workflow_run_of_job"])
    }
    assert.strictEqual(yield* pointer(), a.run, "nothing changed")

    // An earlier version took such a pointer through the port: 0030 refuses the database, naming it.
    yield* before0030(sql)
    yield* sql`UPDATE ai_jobs SET workflow_run_id = ${b.run} WHERE id = ${a.job_id}`
    const error = expectTag(yield* failureOf(migrate), "MigrationFailed")
    assert.deepStrictEqual([error.migration_id, error.migration_name], [30, "run_pointer_own_run"])
    assert.include(error.message, `ai_jobs row "${a.job_id}", column workflow_run_id: names workflow run "${b.run}", which is job "${b.job_id}"'s run`)
    assert.strictEqual(yield* pointer(), b.run, "nothing changed")

    // Fixed by the operator (back to its own run), it applies, and refuses again.
    yield* sql`UPDATE ai_jobs SET workflow_run_id = ${a.run} WHERE id = ${a.job_id}`
    assert.deepStrictEqual((yield* migrate).map(([id]) => id), shippedFrom(dialect, 30))
    assert.strictEqual(yield* refused(sql`UPDATE ai_jobs SET workflow_run_id = ${b.run} WHERE id = ${a.job_id}`), pointedAtOther(a.job_id, b.run, b.job_id))
    assert.strictEqual(yield* pointer(), a.run)
  })

/** Two jobs, each running under a run of its own, as the store writes them. */
const twoStarted = Effect.map(Effect.all([startedJob(), startedJob()]), ([a, b]) => ({
  a: { job_id: a.job.job_id, run: a.run.id },
  b: { job_id: b.job.job_id, run: b.run.id }
}))

describe("R6 migration 0030: a job's workflow_run_id names one of its own runs", () => {
  it.scoped("R6 R16 SQLite: the database refuses another job's run as a job's pointer; a database holding one is refused by 0030, naming it", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile("run-pointer.db")
      const jobs = yield* Effect.provide(twoStarted, storeWithClient(filename))
      yield* Effect.provide(scenario("sqlite", jobs, migrateFrom(migrationsDirectory)), rawClient(filename))
    }), 60_000)

  it.scoped("R6 R16 PostgreSQL: the database refuses another job's run as a job's pointer; a database holding one is refused by 0030, naming it", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("run pointer migration")
      const jobs = yield* Effect.provide(twoStarted, PgStore.layer({ url }))
      yield* Effect.provide(scenario("pg", jobs, PgStore.migrate), rawPgClient(url))
    }), 60_000)
})
