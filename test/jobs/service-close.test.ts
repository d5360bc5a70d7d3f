/**
 * The Jobs layer closed while a caller's `Jobs.run` is in flight (found by an
 * outside probe: `ManagedRuntime.dispose()` during a `runPromise(jobs.run(…))`).
 * Effect does not interrupt a fiber a caller started, so the program ran on,
 * finished after the store had closed, and its end was written again against
 * the closed store for a minute, then given up: the job stayed `running` until
 * recovery and the result was lost. Now closing the layer interrupts the runs
 * in flight and waits for them — each releases its job to `queued`, as any
 * interrupt of a run does — before the store closes; a later call fails at
 * once (its store is closed; `submit` could wait for a recovery gate that
 * never opens).
 *
 * A Layer built in a scope the test closes stands in for the runtime's dispose.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import { Jobs } from "../../src/Jobs.js"
import { interruptedReason } from "../../src/internal/jobs/runJob.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

/** The `StorageError` `exit` failed with, which it must have. */
const storageFailure = (exit: Exit.Exit<unknown, unknown>): StorageError => {
  const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
  assert.instanceOf(error, StorageError, "a typed StorageError")
  return error as StorageError
}

for (const backend of sharedBackends) {
  describe(`closing the Jobs layer, on ${backend.name}`, () => {
    it.effect("R6 closing the Jobs layer's scope mid-run interrupts the caller's Jobs.run: the job is released to queued with its event before the store closes", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("close mid run")
        const scope = yield* Scope.make()
        const jobs = Context.get(yield* Layer.buildWithScope(services(Layer.scoped(JobStore, database.store())), scope), Jobs)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const started = yield* Deferred.make<void>()
        // A caller's fiber the layer's scope does not own (as `runPromise` starts one).
        const caller = yield* Effect.forkDaemon(jobs.run(job.job_id, (ctx) =>
          Effect.zipRight(
            Deferred.succeed(started, undefined),
            ctx.node({ node_id: "slow", node_type: "llm" }, Effect.as(Effect.never, { done: "never" }))
          )))
        yield* Deferred.await(started)

        yield* Scope.close(scope, Exit.void)
        const exit = yield* Fiber.await(caller)
        assert.isTrue(Exit.isInterrupted(exit), "the caller's run was interrupted")

        // Read on a store of its own: the layer's store is closed.
        const store = yield* database.store()
        const released = yield* store.getJob(job.job_id)
        assert.strictEqual(released.state, "queued", "released, not cancelled nor left running")
        const [run] = yield* store.listRuns(job.job_id)
        assert.strictEqual(run!.status, "failed")
        assert.deepStrictEqual((yield* store.listNodes(run!.id)).map((n) => [n.node_id, n.status]), [["slow", "cancelled"]])
        const last = (yield* store.listEvents({ job_id: job.job_id, types: ["system"] })).items.at(-1)!
        assert.deepStrictEqual([last.body["from_state"], last.body["to_state"]], ["running", "queued"])
        assert.strictEqual(last.body["reason"], interruptedReason)

        // Every call after the close fails at once, typed, naming why.
        const calls: ReadonlyArray<Effect.Effect<unknown, unknown>> = [jobs.get(job.job_id), jobs.submit(summarize()), jobs.run(job.job_id, () => Effect.void)]
        for (const call of calls) {
          assert.include(storageFailure(yield* Effect.exit(call)).message, "the Jobs service was closed")
        }
      }).pipe(Effect.scoped))

    it.effect("R6 ManagedRuntime.dispose() while a runPromise(jobs.run) is in flight: the promise rejects interrupted and the job is released to queued", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("dispose mid run")
        const runtime = ManagedRuntime.make(services(Layer.scoped(JobStore, database.store())))
        const job = yield* Effect.promise(() => runtime.runPromise(Effect.flatMap(Jobs, (jobs) => Effect.tap(jobs.submit(summarize()), (job) => jobs.start(job.job_id)))))
        const started = yield* Deferred.make<void>()
        const running = runtime.runPromise(Effect.flatMap(Jobs, (jobs) =>
          jobs.run(job.job_id, () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
        )).then(() => "completed", (error: unknown) => String(error))
        yield* Deferred.await(started)
        yield* Effect.promise(() => runtime.dispose())
        assert.include(yield* Effect.promise(() => running), "interrupted")
        const store = yield* database.store()
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
      }).pipe(Effect.scoped))
  })
}
