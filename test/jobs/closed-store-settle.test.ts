/**
 * A run's end written against a store that was closed under the run (found
 * by an outside probe: a `ManagedRuntime.dispose()` during a caller's
 * `Jobs.run`). The end was written again, as in an outage, for about a
 * minute — "The database connection is not open" / "Cannot use a pool after
 * calling end on the pool", a warning every 5 s — then given up. A closed
 * store is no outage: nothing will reopen it. Now the end is not tried again:
 * `Jobs.run` fails at once with a `StorageError` saying the store was closed,
 * and the job is left, running, to recovery.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`a run's end on a closed store, on ${backend.name}`, () => {
    it.effect("a run's end meeting a closed store fails at once with a StorageError saying so, not tried again for a minute", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("closed store settle")
        const storeScope = yield* Scope.make()
        const closing = yield* Layer.buildWithScope(Layer.scoped(JobStore, database.store()), storeScope)
        // The Jobs service over a store closed under it (another owner's scope).
        const jobs = Context.get(yield* Layer.build(services(Layer.succeedContext(closing))), Jobs)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const started = yield* Deferred.make<void>()
        const finish = yield* Deferred.make<void>()
        const caller = yield* Effect.fork(jobs.run(job.job_id, () =>
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(finish), { done: true }))))
        yield* Deferred.await(started)
        yield* Scope.close(storeScope, Exit.void)
        yield* Deferred.succeed(finish, undefined)

        const exit = yield* Fiber.await(caller)
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.instanceOf(error, StorageError, "a typed StorageError")
        assert.include((error as StorageError).message, "the store was closed")

        // Nothing was written: the job is recovery's, running under its run.
        const store = yield* database.store()
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running")
      }).pipe(Effect.scoped))
  })
}
