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
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import { Jobs } from "../../src/Jobs.js"
import { interruptedReason } from "../../src/internal/jobs/runJob.js"
import { CLOSE_RELEASE_TIMEOUT } from "../../src/internal/jobs/serviceClose.js"
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

    it.effect("R6 closing the Jobs layer waits at most its bound for a program that ignores the interrupt: the store then closes, the run's end is refused as 'store closed' and the job is left running for recovery", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("close past bound")
        const scope = yield* Scope.make()
        const jobs = Context.get(yield* Layer.buildWithScope(services(Layer.scoped(JobStore, database.store())), scope), Jobs)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const started = yield* Deferred.make<void>()
        const gate = yield* Deferred.make<void>()
        // A program no interrupt stops: it ends only when the test opens the gate.
        const caller = yield* Effect.forkDaemon(jobs.run(job.job_id, () =>
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.uninterruptible(Deferred.await(gate)))))
        yield* Deferred.await(started)

        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        // The bound runs on the test's clock, stepped a second at a time (the close may not have started its
        // wait at the first step) up to twice the bound; each step waits a little on the real clock. A close
        // that ignores its bound is still running after that (it was: the wait ran in the finalizer's
        // uninterruptible region, where the timeout could not stop it, until the program ended).
        const joined = TestServices.provideLive(Effect.timeoutOption(Fiber.join(closing), "200 millis"))
        let closed = yield* joined
        for (let second = 0; closed._tag === "None" && second < 2 * Duration.toSeconds(CLOSE_RELEASE_TIMEOUT); second++) {
          yield* TestClock.adjust("1 second")
          closed = yield* joined
        }
        yield* Deferred.succeed(gate, undefined)
        assert.isTrue(closed._tag === "Some", "the close returned once its bound had passed, the program still running")

        const ended = yield* Fiber.await(caller)
        // The interrupt is in the cause too (the close asked first); the failure a caller handles is the refusal.
        const refused = Exit.isFailure(ended) ? Cause.failureOption(ended.cause) : Option.none()
        assert.isTrue(Option.isSome(refused) && refused.value instanceof StorageError, "a typed StorageError")
        assert.include((refused as Option.Some<StorageError>).value.operation, "the store was closed", "the run's end was refused: the store had closed")
        const store = yield* database.store()
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "left for recovery, as the README says")
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
