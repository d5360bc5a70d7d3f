/**
 * Issue 16 (SQLite batched create): `createJobs` without events whose jobs
 * fit one statement runs that INSERT on its own, as `createJob` runs its
 * lone INSERT: no BEGIN/COMMIT around it, and so no statement journal (inside
 * a transaction, a statement writing many rows journals the pages it changes
 * so that it can undo itself alone; for a batch of 100 that journal goes to a
 * temporary file). Every statement better-sqlite3 runs is recorded (the real
 * driver on a real file, nothing mocked). All or nothing is held on every
 * store by create-jobs.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { JobStore } from "../../src/store/JobStore.js"
import { expectTag, failureOf, jobEvent, newJob } from "./fixtures.js"
import { recordingStatements, type Seen } from "./sqlite-recorder.js"
import { rawNumber, storeWithClient, tempDatabaseFile } from "./sqlite-support.js"

/** What ran, PRAGMAs aside: each statement's first words, and whether it ran inside a transaction. */
const ran = (seen: ReadonlyArray<Seen>) =>
  seen.filter(({ source }) => !/^\s*PRAGMA\b/i.test(source)).map(({ inTransaction, source }) => ({
    statement: source.replace(/\s+/g, " ").split(" ").slice(0, 3).join(" "),
    inTransaction
  }))

describe("issue 16 SQLite createJobs statements", () => {
  it.scoped("issue 16 createJobs of 100 jobs without events on a SQLite file is one INSERT outside any transaction: no BEGIN, no COMMIT", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(storeWithClient(yield* tempDatabaseFile()))
      const { seen, value: jobs } = yield* recordingStatements(() =>
        Effect.flatMap(JobStore, (store) => store.createJobs(Array.from({ length: 100 }, () => newJob()))).pipe(Effect.provide(context))
      )
      assert.deepStrictEqual(ran(seen), [{ statement: "INSERT INTO ai_jobs", inTransaction: false }])
      assert.strictEqual(yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM ai_jobs"), context), 100)
      assert.strictEqual(jobs.length, 100)
    }))

  it.scoped("issue 16 createJobs with events on a SQLite file is one transaction: BEGIN IMMEDIATE, the jobs' INSERT, the events' INSERT, COMMIT", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(storeWithClient(yield* tempDatabaseFile()))
      const { seen } = yield* recordingStatements(() =>
        Effect.flatMap(JobStore, (store) =>
          store.createJobs(Array.from({ length: 100 }, () => newJob()), { events: (jobs) => jobs.map((job) => jobEvent(job)) })).pipe(
            Effect.provide(context)
          )
      )
      assert.deepStrictEqual(ran(seen), [
        { statement: "BEGIN IMMEDIATE", inTransaction: false },
        { statement: "INSERT INTO ai_jobs", inTransaction: true },
        { statement: "INSERT INTO flight_recorder_events", inTransaction: true },
        { statement: "COMMIT", inTransaction: true }
      ])
    }))

  it.scoped("issue 16 createJobs without events whose lone INSERT meets a taken id writes nothing, and names the id from inside a transaction", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(storeWithClient(yield* tempDatabaseFile()))
      const { seen, value: taken } = yield* recordingStatements(() =>
        Effect.gen(function*() {
          const store = yield* JobStore
          const stored = yield* store.createJob(newJob())
          const error = yield* failureOf(store.createJobs([newJob(), newJob({ job_id: stored.job_id }), newJob()]))
          assert.strictEqual(expectTag(error, "AlreadyExists").id, stored.job_id)
          return stored.job_id
        }).pipe(Effect.provide(context))
      )
      assert.strictEqual(yield* Effect.provide(rawNumber("SELECT count(*) AS n FROM ai_jobs"), context), 1)
      // createJob's INSERT, the lone INSERT (refused), then the transaction that finds the id and rolls back.
      assert.deepStrictEqual(ran(seen).map(({ statement }) => statement), [
        "INSERT INTO ai_jobs",
        "INSERT INTO ai_jobs",
        "BEGIN IMMEDIATE",
        "INSERT INTO ai_jobs",
        "SELECT id FROM",
        "ROLLBACK"
      ], taken)
    }))
})
