/**
 * R18: the Janitor's keep-newest window, racing an operator's change to a job
 * in it. A pass keeps the newest `keepNewest` unpinned prunable jobs and
 * prunes the older ones. An operator pins the newest (its transaction held
 * open) while the pass runs; the pass waits for it (PostgreSQL: the pass is
 * released once it waits for the lock). Once the newest is pinned, the older
 * job is the newest unpinned one: the window keeps it. Before the fix,
 * PostgreSQL's pass read its window from its snapshot taken before that wait
 * and pruned the older job; SQLite's pass, under its write lock, kept it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { JobStore } from "../../src/store/JobStore.js"
import { sharedBackends, untilLockWaiter } from "../jobs/shared-database.js"
import { jobsIn } from "../store/fixtures.js"

for (const backend of sharedBackends) {
  describe(`the Janitor's window racing an operator, on ${backend.name}`, () => {
    it.effect("R18 a pass waiting on an operator's pin of the newest old job keeps the older one in the window (keepNewest 1): pruned as of after the wait, as on SQLite", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("prune window race")
        const operator = yield* database.store()
        const janitor = yield* database.store()
        const [older] = yield* Effect.provideService(jobsIn("failed", 1), JobStore, operator)
        yield* TestClock.adjust("1 minute")
        const [newest] = yield* Effect.provideService(jobsIn("failed", 1), JobStore, operator)
        yield* TestClock.adjust("40 days")
        // The operator pins the newest in a transaction it holds open: the job's row locked.
        const held = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const pinning = yield* Effect.fork(operator.transaction(Effect.gen(function*() {
          yield* operator.setPinned(newest!.job_id, true)
          yield* Deferred.succeed(held, undefined)
          yield* Deferred.await(release)
        })))
        yield* Deferred.await(held)
        const olderThan = DateTime.subtract(yield* DateTime.now, { days: 30 })
        const pruning = yield* Effect.fork(janitor.pruneJobs({ olderThan, keepNewest: 1 }))
        yield* untilLockWaiter(database, backend)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(pinning)
        const report = yield* Fiber.join(pruning)
        const exists = (id: string) => Effect.map(Effect.either(operator.getJob(id as never)), (found) => found._tag === "Right")
        assert.isTrue(yield* exists(newest!.job_id), "the pinned job")
        assert.isTrue(yield* exists(older!.job_id), "the newest unpinned prunable job once the other is pinned: the window keeps it")
        assert.deepStrictEqual([report.pruned, report.spared_window], [0, 1])
      }).pipe(Effect.scoped), 60_000)
  })
}
