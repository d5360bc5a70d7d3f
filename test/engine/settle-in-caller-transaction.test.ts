/**
 * R8/R9 a run's end inside the caller's own transaction. `Jobs.run` writes a
 * run's end again while the database fails, for up to a minute
 * (runJob.ts, settleDurably). Inside an application's
 * `sql.withTransaction(...)` on the store's database, the end is part of
 * that transaction: on PostgreSQL a failed statement aborts it, so every
 * later try failed too ("current transaction is aborted") and `Jobs.run`
 * hung for the whole minute, holding the transaction open, before failing.
 * Now the first failure is the caller's at once, and their transaction
 * decides: rolled back, the job is as before it.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "../jobs/jobs.suite.js"
import { openCallerClient, postgresShared, type SharedDatabase, sharedBackends } from "../jobs/shared-database.js"
import { capturingLog } from "../support/capturedLog.js"
import { audit } from "../reliability/invariants.js"
import { engineOn } from "./engine.js"

/** The one-statement end of a run (`settleRun`, a completion's), counted; failed while `armed` is above 0. */
const failingEnds = () => {
  const ends = { armed: 0, tries: 0 }
  const wrap = (store: JobStore["Type"]): JobStore["Type"] => ({
    ...store,
    settleRun: (settle) =>
      Effect.suspend(() => {
        ends.tries++
        if (ends.armed === 0) return store.settleRun!(settle)
        ends.armed--
        return Effect.fail(new StorageError({ operation: "JobStore.settleRun", cause: new Error("simulated: the database refused the end") }))
      })
  })
  return { ends, wrap }
}

/**
 * A job submitted, then started and run inside one transaction of the
 * caller's own client: `program` is the job's program, given that client and
 * the ends' counter. The warnings logged meanwhile are kept.
 */
const runInCallerTransaction = (
  database: SharedDatabase,
  program: (sql: SqlClient.SqlClient, ends: { armed: number }) => Effect.Effect<{ readonly summary: string }, unknown>
) =>
  Effect.gen(function*() {
    const { ends, wrap } = failingEnds()
    const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: wrap })
    const sql = yield* openCallerClient(database)
    const job = yield* jobs.submit(summarize())
    const log = capturingLog(["WARN"])
    const result = yield* sql.withTransaction(Effect.gen(function*() {
      yield* jobs.start(job.job_id)
      return yield* jobs.run(job.job_id, () => program(sql, ends))
    })).pipe(log.provide, Effect.exit)
    const error = Exit.isFailure(result) && result.cause._tag === "Fail" ? result.cause.error : undefined
    return { ends, store, job, log, result, error }
  })

for (const backend of sharedBackends) {
  describe(`a run's end inside the caller's transaction, on ${backend.name}`, () => {
    it.live("R8 a failed end inside the caller's transaction is tried once and is the caller's error at once; rolled back, the job is queued as before, with no run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("settle in caller transaction")
        const { ends, error, job, log, result, store } = yield* runInCallerTransaction(database, (_, ends) =>
          Effect.sync(() => (ends.armed = 1_000, { summary: "done" })))
        assert.instanceOf(error, StorageError, String(result))
        assert.strictEqual(ends.tries, 1, "the end was tried once, not again for a minute")
        assert.isFalse(log.lines.some((line) => line.includes("trying again")), log.lines.join("\n"))
        assert.isTrue(log.lines.some((line) => line.includes("inside the caller's transaction")), log.lines.join("\n"))
        ends.armed = 0
        const after = yield* store.getJob(job.job_id)
        assert.deepStrictEqual([after.state, after.workflow_run_id], ["queued", null], "the caller's rollback undid the start")
        assert.deepStrictEqual(yield* store.listRuns(job.job_id), [])
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)

    it.live("R8 outside any transaction the same failure is written again: the job completes on the next try", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("settle outside transaction")
        const { ends, wrap } = failingEnds()
        const { jobs, store } = yield* engineOn(database, { wake: "poll", wrapStore: wrap })
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const result = yield* jobs.run(job.job_id, () => Effect.sync(() => (ends.armed = 1, { summary: "done" }))).pipe(Effect.exit)
        assert.deepStrictEqual(result, Exit.succeed({ summary: "done" }))
        assert.strictEqual(ends.tries, 2)
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed")
        assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 30_000)
  })
}

describe("a run's end inside a caller's PostgreSQL transaction that the program broke", () => {
  it.live("R8 the end fails once (the transaction is aborted) and Jobs.run fails at once, not after a minute of tries; rolled back, the job is queued", () =>
    Effect.gen(function*() {
      const database = yield* postgresShared.fresh("settle in aborted transaction")
      // The program's own statement fails and is ignored: PostgreSQL aborts the transaction all the same.
      const { ends, error, job, log, result, store } = yield* runInCallerTransaction(database, (sql) =>
        Effect.as(Effect.ignore(sql`SELECT 1 / 0`), { summary: "done" }))
      assert.instanceOf(error, StorageError, String(result))
      assert.include(error.message, "current transaction is aborted")
      assert.strictEqual(ends.tries, 1, "tried once")
      assert.isFalse(log.lines.some((line) => line.includes("trying again")), log.lines.join("\n"))
      assert.deepStrictEqual((yield* store.getJob(job.job_id)).state, "queued")
      assert.deepStrictEqual(audit(yield* database.snapshot, { quiescent: true }), [])
    }).pipe(Effect.scoped), 30_000)
})
