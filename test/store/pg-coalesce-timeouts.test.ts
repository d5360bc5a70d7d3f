/**
 * Group commit on PostgreSQL, a shared statement's failure: whose is it?
 *
 * - **No member's** (found by an outside probe of resource exhaustion): a
 *   shared statement that lost its connection, met a shutdown or a full disk
 *   was run again by each member alone, each meeting it again. Such a
 *   failure now fails every member at once (the classification below).
 * - **Maybe one member's** (found by a probe of that fix, which had counted a
 *   statement timeout as no member's too): one submit whose caller-given job
 *   id another transaction had just inserted, uncommitted, waits on that
 *   row; sharing its INSERT, 39 of 40 unrelated submits failed with its
 *   statement timeout. A timeout now sends the members to run alone: only
 *   the waiting one fails.
 *
 * Statements are counted by wrapping the real `pg` driver's
 * `Client.prototype.query`, never by time.
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import { Jobs } from "../../src/Jobs.js"
import type { JobId } from "../../src/domain/Ids.js"
import { uuidv7 } from "../../src/domain/uuidv7.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { isNoRowsFault, sharedStorageError } from "../../src/store/pg/errors.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { newJob } from "./fixtures.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const pg = createRequire(import.meta.url)("pg") as { readonly Client: { readonly prototype: { query: Query } } }

/** The statements that write a caller's job: a submit's insert, a complete's move (alone, or shared: `WITH ends AS`). */
const WRITES = /INSERT INTO ai_jobs|UPDATE workflow_runs r SET status|WITH ends AS/

/** Counts the job-writing statements `pg` sends while `effect` runs. */
const countingWrites = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = pg.Client.prototype
      const original = proto.query
      const counter = { writes: 0 }
      proto.query = function(this: object, ...args: Array<unknown>) {
        const [config] = args
        const text = typeof config === "string" ? config : String((config as { readonly text?: unknown } | null)?.text ?? "")
        if (WRITES.test(text)) counter.writes++
        return original.apply(this, args)
      }
      return { proto, original, counter }
    }),
    ({ counter }) => Effect.map(effect, (value) => ({ value, writes: counter.writes })),
    ({ original, proto }) => Effect.sync(() => {
      proto.query = original
    })
  )

/** The SQLSTATE under a StorageError (its SqlError's driver error). */
const sqlStateOf = (error: unknown): string | undefined => {
  if (!(error instanceof StorageError) || !(error.cause instanceof SqlError)) return undefined
  const code = (error.cause.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

const CALLERS = 16

/** A driver error as pg gives it: SQLSTATE `code`, server `severity` (absent: no answer came). */
const driverError = (code?: string, severity?: string) =>
  new SqlError({ cause: Object.assign(new Error("driver"), code === undefined ? {} : { code }, severity === undefined ? {} : { severity }) })

describe("group commit on PostgreSQL: which shared statement's failure is every member's", () => {
  it("a lost connection, a shutdown, a full disk or no answer at all is no member's: every member gets it at once", () => {
    for (const [code, severity] of [["08006", "ERROR"], ["57P01", "FATAL"], ["57P03", "FATAL"], ["53100", "ERROR"], ["58030", "ERROR"], ["XX000", "PANIC"], [undefined, undefined]] as const) {
      assert.isTrue(isNoRowsFault(driverError(code, severity)), `${code} ${severity}`)
      assert.instanceOf(sharedStorageError("JobStore.createJob")(driverError(code, severity)), StorageError)
    }
  })

  it("a statement timeout, a lock timeout or a row's own error may be one member's: each member runs alone", () => {
    for (const [code, severity] of [["57014", "ERROR"], ["55P03", "ERROR"], ["23505", "ERROR"], ["22P02", "ERROR"], ["40P01", "ERROR"]] as const) {
      assert.isFalse(isNoRowsFault(driverError(code, severity)), code)
      assert.isUndefined(sharedStorageError("JobStore.createJob")(driverError(code, severity)))
    }
  })
})

describe("group commit on PostgreSQL: a statement timeout may be one member's", () => {
  it.scopedLive(
    "one submit waiting on a job id another transaction inserted and has not committed times out alone: the 15 submits that shared its statement are stored",
    () =>
      Effect.gen(function*() {
        const url = yield* freshPgDatabase("coalesce one member's wait")
        const mine = yield* Layer.build(services(PgStore.layer({ url, coalesce: true, statementTimeout: "1 second" })))
        const theirs = yield* Layer.build(services(PgStore.layer({ url, coalesce: false })))
        const jobs = Context.get(mine, Jobs)
        const other = Context.get(theirs, Jobs)
        const id = uuidv7() as JobId
        const inserted = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        // Their transaction holds the new row (and its unique index entry) uncommitted until released.
        const holder = yield* Effect.fork(Context.get(theirs, JobStore).transaction(
          Effect.zipRight(Effect.zipRight(other.submit({ ...newJob(), job_id: id }), Deferred.succeed(inserted, undefined)), Deferred.await(release))
        ))
        yield* Deferred.await(inserted)
        const { value, writes } = yield* countingWrites(Effect.forEach(
          [{ ...newJob(), job_id: id }, ...Array.from({ length: CALLERS - 1 }, () => newJob())],
          (job) => Effect.either(jobs.submit(job)),
          { concurrency: "unbounded" }
        ))
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        const [waiter, ...others] = value
        assert.strictEqual(waiter!._tag, "Left", "the submit of the id their transaction holds waits it out")
        assert.strictEqual(sqlStateOf((waiter as { readonly left: unknown }).left), "57014")
        for (const outcome of others) assert.strictEqual(outcome._tag, "Right", "no other submit fails for its wait")
        assert.isAbove(writes, 1)
        assert.strictEqual((yield* jobs.list({ limit: 100 })).items.length, CALLERS, "their job and the 15 others")
      }),
    60_000
  )
})
