/**
 * Group commit on PostgreSQL under a lock held past `statementTimeout`
 * (found by an outside probe of resource exhaustion): a shared statement that
 * the server timed out was run again by each member alone, so every caller
 * waited the timeout two or three times (pool of 4: more) before its
 * StorageError. A failure that is no member's fault now fails every member at
 * once: each caller's submit or complete is in exactly one statement sent.
 * Statements are counted by wrapping the real `pg` driver's
 * `Client.prototype.query`, never by time.
 */
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import type * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createRequire } from "node:module"
import { Jobs } from "../../src/Jobs.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { services } from "../jobs/services.js"
import { connectPg, freshPgDatabase } from "../support/pg-database.js"
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

/** Another session holding `ai_jobs` in EXCLUSIVE mode until the scope closes: every write of a job waits on it. */
const holdJobsTable = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = await connectPg(url)
      await client.query("BEGIN")
      await client.query("LOCK TABLE ai_jobs IN EXCLUSIVE MODE")
      return client
    }),
    (client) => Effect.promise(() => client.query("ROLLBACK").catch(() => undefined).then(() => client.end()))
  )

/** The SQLSTATE under a StorageError (its SqlError's driver error). */
const sqlStateOf = (error: unknown): string | undefined => {
  if (!(error instanceof StorageError) || !(error.cause instanceof SqlError)) return undefined
  const code = (error.cause.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

const CALLERS = 16

/**
 * `CALLERS` concurrent submits (or completes of running jobs) while another
 * session holds the table past the store's statementTimeout: each caller's
 * outcome and the job-writing statements sent.
 */
const underHeldLock = (options: { readonly coalesce: boolean; readonly maxConnections?: number; readonly op: "submit" | "complete" }) =>
  Effect.scoped(Effect.gen(function*() {
    const url = yield* freshPgDatabase(`coalesce timeout ${options.op}`)
    const context = yield* Layer.build(services(PgStore.layer({
      url,
      coalesce: options.coalesce,
      statementTimeout: "1 second",
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections })
    })))
    return yield* Effect.provide(
      Effect.gen(function*() {
        const jobs = yield* Jobs
        const running = options.op === "complete"
          ? yield* Effect.forEach(Array.from({ length: CALLERS }), () =>
            Effect.flatMap(jobs.submit(newJob()), (job) => Effect.map(jobs.start(job.job_id), (claim) => claim.job)))
          : []
        yield* holdJobsTable(url)
        return yield* countingWrites(Effect.forEach(
          Array.from({ length: CALLERS }, (_, i) => i),
          (i): Effect.Effect<Either.Either<unknown, unknown>> =>
            options.op === "submit" ? Effect.either(jobs.submit(newJob())) : Effect.either(jobs.complete(running[i]!.job_id)),
          { concurrency: "unbounded" }
        ))
      }),
      context
    )
  }))

/** Every caller failed with the statement timeout's StorageError (57014), not some later error. */
const everyCallerTimedOut = (outcomes: ReadonlyArray<{ readonly _tag: string; readonly left?: unknown }>) => {
  assert.strictEqual(outcomes.length, CALLERS)
  for (const outcome of outcomes) {
    assert.strictEqual(outcome._tag, "Left")
    assert.instanceOf(outcome.left, StorageError)
    assert.strictEqual(sqlStateOf(outcome.left), "57014", "the statement timeout's own error")
  }
}

describe("group commit on PostgreSQL: a shared statement's timeout is every member's, at once", () => {
  for (const op of ["submit", "complete"] as const) {
    it.scopedLive(
      `${CALLERS} concurrent ${op}s under a table lock past statementTimeout each fail with that timeout's StorageError after one statement: the first alone, the rest in one shared statement, none run again alone (2 statements, not ${CALLERS + 1})`,
      () =>
        Effect.gen(function*() {
          const { value, writes } = yield* underHeldLock({ coalesce: true, op })
          everyCallerTimedOut(value)
          assert.strictEqual(writes, 2, "one statement for the first caller, one for the line behind it")
        }),
      60_000
    )
  }

  it.scopedLive(
    `with a pool of 4, ${CALLERS} concurrent submits under the lock still send 2 statements, each caller failing with the timeout`,
    () =>
      Effect.gen(function*() {
        const { value, writes } = yield* underHeldLock({ coalesce: true, maxConnections: 4, op: "submit" })
        everyCallerTimedOut(value)
        assert.strictEqual(writes, 2)
      }),
    60_000
  )

  it.scopedLive(
    `with coalesce off, each of ${CALLERS} submits under the lock sends its own one statement (what the counts above are measured against)`,
    () =>
      Effect.gen(function*() {
        const { value, writes } = yield* underHeldLock({ coalesce: false, op: "submit" })
        everyCallerTimedOut(value)
        assert.strictEqual(writes, CALLERS)
      }),
    60_000
  )
})
