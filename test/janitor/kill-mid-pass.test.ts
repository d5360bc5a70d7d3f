/**
 * R18 HSK-GC-004 a Janitor pass killed mid-pass leaves no purge unrecorded,
 * on a SQLite file and on PostgreSQL. The pass's retention batches once
 * committed on their own and its one gc_summary came with the pruning, at
 * the end: a process killed (SIGKILL, the machine gone) after a batch
 * committed and before the pruning's COMMIT had purged events no summary
 * counted, and nothing in the process could record them. Now each full batch
 * commits with its own summary and the last with the pruning.
 *
 * A real child process (kill-mid-pass-process.ts) runs the pass over the
 * database and is SIGKILLed where its pruning has begun: on both stores its
 * store stops it as the pruning is called; on PostgreSQL also with the real
 * store, its pruning waiting for the row lock of an old job another session
 * holds. Then the events gone must be exactly those the gc_summaries count.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import { JobStore } from "../../src/store/JobStore.js"
import { postgresShared, type SharedBackend, type SharedDatabase, sharedBackends, untilLockWaiter } from "../jobs/shared-database.js"
import { startChild } from "../reliability/children.js"
import type { WorkerMessage } from "../reliability/protocol.js"
import { jobsIn } from "../store/fixtures.js"

/** The child process of these tests, from test/reliability/children.ts's folder. */
const CHILD = "../janitor/kill-mid-pass-process.ts"

const BATCH = 5
/** Eight full batches and a short one of two. */
const EVENTS = 42
const DAY = 24 * 60 * 60 * 1000

const pruning = (m: WorkerMessage): m is WorkerMessage => (m as unknown as { readonly t: string }).t === "pruning"

/** A fresh database holding EVENTS diagnostics and one completed job, all 40 days old (by the child's real clock). */
const oldDatabase = (backend: SharedBackend) =>
  Effect.gen(function*() {
    const database = yield* backend.fresh("janitor killed mid-pass")
    const store = yield* database.store()
    yield* TestClock.setTime(Date.now() - 40 * DAY)
    const recorder = yield* FlightRecorder.make().pipe(Effect.provide(Layer.succeed(JobStore, store)))
    for (let i = 0; i < EVENTS; i++) {
      yield* Effect.flatMap(FlightRecorder.makeEvent("diagnostic", { actor: "system", diagnostic_id: `d-${i}` }), recorder.record)
    }
    const [job] = yield* jobsIn("completed", 1).pipe(Effect.provide(Layer.succeed(JobStore, store)))
    return { database, store, job: job! }
  })

/** Starts kill-mid-pass-process.ts's pass over `database` (`mode` hold or plain); killed, if still alive, when the scope closes. */
const passInChild = (database: SharedDatabase, mode: "hold" | "plain") =>
  Effect.acquireRelease(
    Effect.promise(() => startChild(CHILD, { HSK_CHILD_ARGV: JSON.stringify([database.url, String(BATCH), mode]) })),
    (child) => Effect.promise(() => child.kill())
  )

/** The rule, then the exact outcome: the full batches purged, each in its own summary; the short batch rolled back with the pruning. */
const everyPurgeCounted = (store: JobStore["Type"]) =>
  Effect.gen(function*() {
    const items = (yield* store.listEvents({ limit: 1000 })).items
    const summaries = items.filter((record) => record.body["event_name"] === "gc_summary")
    const gone = EVENTS - (items.length - summaries.length)
    const counted = summaries.reduce((sum, record) => sum + Number(record.body["events_purged"] ?? 0), 0)
    assert.strictEqual(counted, gone, "the events gone are exactly those the gc_summaries count")
    assert.strictEqual(gone, 8 * BATCH, "the full batches stay purged; the short one rolled back with the pruning")
    assert.deepStrictEqual(
      summaries.map((record) => [record.body["actor"], record.body["items_scanned"], record.body["items_pruned"], record.body["events_purged"]]),
      Array.from({ length: 8 }, () => ["system", 0, 0, BATCH]),
      "one summary per full batch, no job scanned or pruned"
    )
  })

for (const backend of sharedBackends) {
  describe(`a Janitor pass killed mid-pass on ${backend.name}`, () => {
    it.effect("R18 HSK-GC-004 a pass SIGKILLed after retention batches committed and before its pruning's COMMIT leaves every purged event counted by a gc_summary", () =>
      Effect.gen(function*() {
        const { database, store } = yield* oldDatabase(backend)
        const child = yield* passInChild(database, "hold")
        yield* Effect.promise(() => child.waitFor(pruning, 60_000))
        yield* Effect.promise(() => child.kill())
        yield* everyPurgeCounted(store)
      }).pipe(Effect.scoped), 120_000)

    if (backend === postgresShared) {
      it.effect("R18 HSK-GC-004 a pass SIGKILLed while its pruning waits for an old job's row lock another session holds leaves every purged event counted by a gc_summary", () =>
        Effect.gen(function*() {
          const { database, store, job } = yield* oldDatabase(backend)
          const holder = yield* database.store()
          const held = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const holding = yield* Effect.fork(holder.transaction(
            Effect.zipRight(Effect.zipRight(holder.lockJob(job.job_id), Deferred.succeed(held, undefined)), Deferred.await(release))
          ))
          yield* Deferred.await(held)
          const child = yield* passInChild(database, "plain")
          // The pass's pruning locks every old prunable job first: it waits for the holder.
          yield* untilLockWaiter(database, backend)
          yield* Effect.promise(() => child.kill())
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(holding)
          yield* everyPurgeCounted(store)
          assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed", "the killed pass pruned nothing")
        }).pipe(Effect.scoped), 120_000)
    }
  })
}
