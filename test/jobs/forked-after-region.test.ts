/**
 * A write from a fiber forked inside `store.transaction` or
 * `store.readConsistent` that runs after the region has ended (found by an
 * outside probe). The fiber inherits the region's connection. On SQLite its
 * cancel joined a transaction that no longer existed: its SAVEPOINT began a
 * new one nobody ended — the cancel was told success but never committed,
 * the write lock stayed held (another process could not write), every later
 * submit failed, and the next read's ROLLBACK undid the "done" cancel.
 * PostgreSQL refused it. Now both refuse it with a `StorageError`, nothing
 * written, and the store goes on.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`a write forked inside a region that has ended, on ${backend.name}`, () => {
    it.live("R10 a cancel forked inside readConsistent or transaction and run after it is a StorageError; nothing written, the store goes on", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("forked after region")
        const context = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store())))
        const jobs = Context.get(context, Jobs)
        const store = Context.get(context, JobStore)
        const regions = [
          (effect: Effect.Effect<unknown, unknown>) => store.readConsistent(Effect.fork(effect)),
          (effect: Effect.Effect<unknown, unknown>) => store.transaction(Effect.fork(effect))
        ]
        for (const [index, region] of regions.entries()) {
          const job = yield* jobs.submit(summarize())
          // Forked inside the region; it writes only once the region has ended (let go after it returned).
          const regionEnded = yield* Deferred.make<void>()
          const child = yield* region(Effect.zipRight(Deferred.await(regionEnded), jobs.cancel(job.job_id)))
          yield* Deferred.succeed(regionEnded, undefined)
          const exit = yield* Fiber.await(child)
          assert.isTrue(Exit.isFailure(exit), `region ${index}: not told success`)
          if (Exit.isFailure(exit)) {
            const failure = Cause.failureOption(exit.cause)
            assert.strictEqual(failure._tag === "Some" ? (failure.value as { _tag: string })._tag : Cause.pretty(exit.cause), "StorageError", `region ${index}`)
          }
          // Nothing written, seen from outside the store's connection; and the store writes again.
          const rows = (yield* database.snapshot).jobs
          assert.strictEqual(rows.find((row) => row.id === job.job_id)?.status, "queued", `region ${index}: in the database`)
          assert.strictEqual((yield* jobs.get(job.job_id)).state, "queued")
          const next = yield* jobs.submit(summarize())
          assert.strictEqual((yield* jobs.cancel(next.job_id)).state, "cancelled")
          assert.strictEqual((yield* database.snapshot).jobs.find((row) => row.id === next.job_id)?.status, "cancelled", "committed")
        }
      }).pipe(Effect.scoped), 60_000)
  })
}
