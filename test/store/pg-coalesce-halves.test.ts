/**
 * Issue 16 (group commit on PostgreSQL, many workers): a shared statement
 * that served `SPLIT_AT` callers or more resumes them in two halves, so the
 * node thread computes one half's next calls while the other half's
 * statement is on the server (internal/coalesce.ts says why).
 *
 * The interleaving is forced as in pg-coalesce.test.ts: another session
 * holds the events table, so a first create blocks in flight (seen waiting
 * in `pg_stat_activity`) while the racers, released by one gate, line up
 * behind it; then the lock goes. One log, in order, records each create
 * statement the real `pg` driver is handed (`Client.prototype.query`
 * wrapped) and each caller going on after its first create. No timing is
 * asserted: only the order of those events, and every caller's own result.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { SPLIT_AT } from "../../src/store/pg/coalesced.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { holdTable } from "../support/tableHold.js"
import { eventRecord, ids, newJob } from "./fixtures.js"

type Query = (this: object, ...args: Array<unknown>) => unknown
const pg = createRequire(import.meta.url)("pg") as { readonly Client: { readonly prototype: { query: Query } } }

/** What happened, in order: a create statement handed to the driver, a racer going on, the blocker going on. */
type Entry = "create sent" | "racer on" | "blocker on"

/** Logs every create statement `pg` is handed while `effect` runs. */
const loggingCreates = <A, E, R>(log: Array<Entry>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = pg.Client.prototype
      const original = proto.query
      proto.query = function(this: object, ...args: Array<unknown>) {
        const [config] = args
        const text = typeof config === "string" ? config : String((config as { readonly text?: unknown } | null)?.text ?? "")
        if (/INSERT INTO ai_jobs/.test(text)) log.push("create sent")
        return original.apply(this, args)
      }
      return { proto, original }
    }),
    () => effect,
    ({ original, proto }) => Effect.sync(() => {
      proto.query = original
    })
  )

/** A store (and Jobs over it) with group commit, on a fresh database. */
const withStore = <A, E>(label: string, body: (url: string) => Effect.Effect<A, E, JobStore | Jobs | Scope.Scope>) =>
  Effect.gen(function*() {
    const url = yield* freshPgDatabase(label)
    const context = yield* Layer.build(services(PgStore.layer({ url, coalesce: true })))
    return yield* Effect.provide(body(url), context)
  })

/**
 * One blocked create, then `racers` creates lined up behind it; each racer
 * then makes a second create when `second`. Returns the log, and each
 * racer's jobs with the inputs they were made from.
 */
const racersBehindABlocker = (url: string, racers: number, second: boolean) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* JobStore
    const log: Array<Entry> = []
    const create = () => {
      const input = newJob({ job_id: ids.job(), trace_id: ids.trace() })
      const record = eventRecord({ job_id: input.job_id!, trace_id: input.trace_id! })
      return Effect.map(store.createJob(input, { events: () => [record] }), (job) => ({ job, input, record }))
    }
    const held = yield* holdTable(url, "flight_recorder_events")
    const results = yield* loggingCreates(log, Effect.gen(function*() {
      const blocker = yield* Effect.fork(Effect.tap(create(), () => log.push("blocker on")))
      yield* held.blocked
      const gate = yield* Deferred.make<void>()
      const racing = yield* Effect.forEach(Array.from({ length: racers }), () =>
        Effect.fork(Effect.gen(function*() {
          yield* Deferred.await(gate)
          const first = yield* create()
          log.push("racer on")
          return second ? [first, yield* create()] : [first]
        })))
      yield* Deferred.succeed(gate, undefined)
      // The racers need only the CPU to line up behind the blocker; give them the event loop, then let the table go.
      yield* Effect.sleep("100 millis")
      yield* held.release
      yield* Fiber.join(blocker)
      return yield* Fiber.joinAll(racing)
    }))
    return { log, results }
  }))

/** Each racer's jobs are its own: queued, with its own record once. */
const ownJobs = (results: ReadonlyArray<ReadonlyArray<{ readonly job: AiJob; readonly input: { readonly job_id?: string }; readonly record: { readonly event_id: string } }>>) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    for (const { input, job, record } of results.flat()) {
      assert.strictEqual(job.job_id, input.job_id)
      assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
      assert.deepStrictEqual((yield* store.listEvents({ job_id: job.job_id })).items.map((event) => event.event_id), [record.event_id])
    }
  })

/** The log's entries between the `n`th create statement (1-based) and the next one. */
const afterCreate = (log: ReadonlyArray<Entry>, n: number) => {
  const sent = log.flatMap((entry, i) => entry === "create sent" ? [i] : [])
  return log.slice(sent[n - 1]! + 1, sent[n] ?? log.length)
}

describe("issue 16 group commit on PostgreSQL: halves at many workers", () => {
  const RACERS = SPLIT_AT + 2

  it.scopedLive(
    `issue 16 ${RACERS} callers of one shared statement (${SPLIT_AT} or more) go on in two halves: half make their next calls, whose statement goes out before the other half go on and share the next one; each gets its own job`,
    () =>
      withStore("coalesce halves", (url) =>
        Effect.gen(function*() {
          const { log, results } = yield* racersBehindABlocker(url, RACERS, true)
          const creates = log.filter((entry) => entry === "create sent").length
          assert.strictEqual(creates, 4, "the blocker alone, the line in one, then one statement per half")
          // The blocker goes on a turn after the line's statement is out (the hand-over, next test), before its reply.
          assert.deepStrictEqual(afterCreate(log, 2), ["blocker on", ...Array(RACERS / 2).fill("racer on")], "half go on after the line's statement")
          assert.deepStrictEqual(afterCreate(log, 3), Array(RACERS / 2).fill("racer on"), "the other half only once that half's statement is out")
          yield* ownJobs(results)
        })),
    60_000
  )

  it.scopedLive(
    `issue 16 at ${SPLIT_AT} callers or more, a statement that ends with a group waiting for its slot hands the slot over first: the waiting group's statement goes out before the caller of the one that ended goes on`,
    () =>
      withStore("coalesce hand over", (url) =>
        Effect.gen(function*() {
          const { log, results } = yield* racersBehindABlocker(url, RACERS, false)
          assert.strictEqual(log[0], "create sent", "the blocker's")
          assert.strictEqual(log[1], "create sent", "the line's, before the blocker goes on")
          assert.strictEqual(log[2], "blocker on")
          // No later statement of the store wakes the held half: it goes on all the same (three turns at the latest).
          assert.strictEqual(log.filter((entry) => entry === "racer on").length, RACERS, "every racer has its job")
          yield* ownJobs(results)
        })),
    60_000
  )

  it.scopedLive(
    `issue 16 below ${SPLIT_AT} callers nothing changes: the blocker goes on before the line's statement goes out, and a shared statement's leader goes on at once, its next call alone, and every member right after it, none held back`,
    () =>
      withStore("coalesce below halves", (url) =>
        Effect.gen(function*() {
          const racers = SPLIT_AT - 2
          const { log, results } = yield* racersBehindABlocker(url, racers, true)
          assert.deepStrictEqual(log.slice(0, 3), ["create sent", "blocker on", "create sent"])
          // The leader goes on at once and its next create, alone, is out before its members go on (as before halves).
          assert.deepStrictEqual(afterCreate(log, 2), ["racer on"], "the leader first")
          assert.deepStrictEqual(afterCreate(log, 3), Array(racers - 1).fill("racer on"), "then every member, none held back")
          assert.strictEqual(log.filter((entry) => entry === "create sent").length, 4, "the leader's next alone, then the others'")
          yield* ownJobs(results)
        })),
    60_000
  )

  it.scopedLive(
    "issue 16 sixteen workers through whole lifecycles under halves: every job is claimed once and completed, with one lifecycle's records",
    () =>
      withStore("coalesce halves lifecycle", () =>
        Effect.gen(function*() {
          const jobs = yield* Jobs
          const store = yield* JobStore
          const completed: Array<string> = []
          const worker = Effect.forEach(Array.from({ length: 8 }), () =>
            Effect.gen(function*() {
              yield* jobs.submit(newJob())
              for (;;) {
                const claim = yield* jobs.claimNext()
                if (claim === null) continue
                yield* store.heartbeat(claim.run.id)
                yield* jobs.complete(claim.job.job_id)
                completed.push(claim.job.job_id)
                return
              }
            }), { discard: true })
          yield* Effect.all(Array.from({ length: 16 }, () => worker), { concurrency: "unbounded", discard: true })
          assert.strictEqual(completed.length, 128)
          assert.strictEqual(new Set(completed).size, 128, "no job claimed twice")
          const eventCounts = new Set<number>()
          for (const jobId of completed) {
            assert.strictEqual((yield* store.getJob(jobId as AiJob["job_id"])).state, "completed")
            eventCounts.add((yield* store.listEvents({ job_id: jobId as AiJob["job_id"] })).items.length)
          }
          assert.strictEqual(eventCounts.size, 1, "every job has the same lifecycle records")
        })),
    120_000
  )
})
