/**
 * The Jobs layer closed while a worker pool runs on it (found by an outside
 * probe: an app built as a `ManagedRuntime` runs `jobs.worker` in a fiber of
 * its own, `rt.runFork(Effect.scoped(… jobs.worker(…) … Effect.never))`, and
 * disposes the runtime while two programs run). Only `Jobs.run` was tracked by
 * the service's close: `dispose()` returned at once, no program's finalizer
 * ran, the jobs and their runs stayed `running`, and the pool went on against
 * the closed store — its heartbeats warned the database was unreachable, its
 * loops never ended. Now the close stops every pool as it interrupts a
 * caller's `Jobs.run`: its programs interrupted, their jobs released to
 * `queued` with their events, within the same bound, before the store closes;
 * and the pool's loops end, so it claims nothing more even when its own scope
 * outlives the service. A pool asked for after the close fails with the
 * `StorageError` every other call fails with.
 *
 * Every fiber the pool starts is watched with a `Supervisor`: when they have
 * all ended, nothing of the pool can claim, beat or log again.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import type { JobId } from "../../src/domain/Ids.js"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import { releasedOnClose } from "../../src/internal/jobs/serviceClose.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { audit } from "../reliability/invariants.js"
import { capturingLog } from "../support/capturedLog.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { type SharedDatabase, sharedBackends } from "./shared-database.js"

/** How many programs run when the service closes. */
const RUNNING = 3

/**
 * Until every fiber `tracker` saw start has ended — none is left when the pool has stopped. A
 * guard, not a measure: a pool that stops ends them at once; one that does not never ends them.
 */
const allEnded = (tracker: Supervisor.Supervisor<Array<Fiber.RuntimeFiber<unknown, unknown>>>) =>
  Effect.gen(function*() {
    const ended = yield* TestServices.provideLive(Effect.timeoutOption(Fiber.awaitAll(yield* tracker.value), "30 seconds"))
    assert.isTrue(Option.isSome(ended), "every fiber the pool started has ended")
    assert.deepStrictEqual(yield* tracker.value, [], "no fiber of the pool is left")
  })

/** Each job released by the close: queued with its `system` event, its run failed with the same reason, no row left running. */
const releasedByClose = (database: SharedDatabase, jobIds: ReadonlyArray<JobId>) =>
  Effect.gen(function*() {
    // Read on a store of its own: the layer's store is closed.
    const store = yield* database.store()
    for (const jobId of jobIds) {
      const job = yield* store.getJob(jobId)
      assert.strictEqual(job.state, "queued", "released, not left running nor cancelled")
      assert.strictEqual(job.status_reason, releasedOnClose)
      const runs = yield* store.listRuns(jobId)
      assert.deepStrictEqual(runs.map((run) => [run.status, run.error_message]), [["failed", releasedOnClose]])
      const last = (yield* store.listEvents({ job_id: jobId, types: ["system"] })).items.at(-1)!
      assert.deepStrictEqual([last.body["from_state"], last.body["to_state"], last.body["reason"]], ["running", "queued", releasedOnClose])
    }
    const snapshot = yield* database.snapshot
    assert.deepStrictEqual(snapshot.jobs.filter((job) => job.status === "running"), [], "no job left running")
    assert.deepStrictEqual(snapshot.runs.filter((run) => run.status === "running"), [], "no run left running")
    assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
  })

for (const backend of sharedBackends) {
  describe(`closing the Jobs layer under a worker pool, on ${backend.name}`, () => {
    it.effect("R6 ManagedRuntime.dispose() while a pool runs jobs: each program's finalizer runs once, each job is released to queued with its event before the store closes, nothing warns, and the pool's fibers end", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("dispose under pool")
        const runtime = ManagedRuntime.make(services(Layer.scoped(JobStore, database.store())))
        const submitted = yield* Effect.promise(() =>
          runtime.runPromise(Effect.flatMap(Jobs, (jobs) => Effect.forEach(Array.from({ length: RUNNING }, (_, n) => ({ n })), (inputs) => jobs.submit(summarize({ job_inputs: inputs })))))
        )
        const finalized = new Map<string, number>()
        let started = 0
        const allStarted = yield* Deferred.make<void>()
        // The probe's program: an hour's sleep, with a finalizer.
        const handler = (ctx: RunContext) =>
          Effect.ensuring(
            Effect.zipRight(
              Effect.suspend(() => ++started === RUNNING ? Deferred.succeed(allStarted, undefined) : Effect.void),
              Effect.as(Effect.sleep("1 hour"), { done: "never" })
            ),
            Effect.sync(() => finalized.set(ctx.job.job_id, (finalized.get(ctx.job.job_id) ?? 0) + 1))
          )
        const log = capturingLog(["WARN", "ERROR"])
        const tracker = yield* Supervisor.track
        // The app's fiber, which the runtime's dispose does not interrupt; the pool's scope is its own.
        const app = runtime.runFork(log.provide(Effect.scoped(Effect.zipRight(
          Effect.supervised(Effect.flatMap(Jobs, (jobs) => jobs.worker({ concurrency: RUNNING, drainTimeout: "1 hour", handlers: { doc_summarize: handler } })), tracker),
          Effect.never
        ))))
        yield* Deferred.await(allStarted)

        yield* Effect.promise(() => runtime.dispose())
        const jobIds = submitted.map((job) => job.job_id)
        assert.deepStrictEqual(jobIds.map((id) => finalized.get(id)), jobIds.map(() => 1), "each program was interrupted, its finalizer run once, before dispose returned")
        yield* releasedByClose(database, jobIds)
        yield* allEnded(tracker)
        assert.deepStrictEqual(log.lines, [], "no warning: no heartbeat against a closed store, no claim refused")

        // The app's scope, closed later, has nothing left to drain (its drain time is an hour).
        yield* Fiber.interrupt(app)
        assert.deepStrictEqual(jobIds.map((id) => finalized.get(id)), jobIds.map(() => 1), "no finalizer ran twice")
        assert.deepStrictEqual(log.lines, [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a pool whose scope outlives the Jobs layer claims nothing after the layer closed: its loops end, a job queued afterwards stays queued, and a pool asked for afterwards fails with a typed StorageError", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("pool outlives service")
        let claimsAfterClose = 0
        let closed = false
        const store = yield* database.store()
        // The store the service claims through (in one statement, or in a transaction), counting the claims made once it has closed.
        const counting = <A extends ReadonlyArray<unknown>, B, E>(claim: (...args: A) => Effect.Effect<B, E>) => (...args: A) =>
          Effect.suspend(() => {
            if (closed) claimsAfterClose++
            return claim(...args)
          })
        const { claimAdmitted } = store
        const counted: JobStore["Type"] = {
          ...store,
          claimNext: counting(store.claimNext),
          ...(claimAdmitted !== undefined ? { claimAdmitted: counting(claimAdmitted) } : {})
        }
        const layerScope = yield* Scope.make()
        const jobs = Context.get(yield* Layer.buildWithScope(services(Layer.succeed(JobStore, counted)), layerScope), Jobs)
        const log = capturingLog(["WARN", "ERROR"])
        const tracker = yield* Supervisor.track
        const poolScope = yield* Scope.make()
        yield* Scope.extend(log.provide(Effect.supervised(jobs.worker({ concurrency: 2, pollInterval: "1 second", handler: () => Effect.void }), tracker)), poolScope)
        // The loops have looked once and are idle.
        yield* TestClock.adjust("1 second")

        // A pool's effect made while the service is open, run only once it has closed.
        const calledBefore = jobs.worker({ concurrency: 1, handler: () => Effect.void })
        yield* Scope.close(layerScope, Exit.void)
        closed = true
        yield* allEnded(tracker)
        // A job queued afterwards (another process's submit) and many poll intervals later: nobody claimed it.
        const other = yield* database.store()
        const otherJobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, other))), Jobs)
        const late = yield* otherJobs.submit(summarize())
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(claimsAfterClose, 0, "no claim after the close")
        assert.strictEqual((yield* other.getJob(late.job_id)).state, "queued")
        assert.deepStrictEqual(log.lines, [], "no refused claim, nothing warned")

        yield* Scope.close(poolScope, Exit.void)
        assert.deepStrictEqual(log.lines, [])

        // A pool asked for once the service has closed — called then, or called before and run then — fails
        // with the StorageError every other call fails with, typed (it died with it: a defect no caller could
        // catch as what it is; found in our last stop's note), and nothing of it starts.
        for (const refused of [yield* Effect.exit(Effect.scoped(jobs.worker({ concurrency: 1, handler: () => Effect.void }))), yield* Effect.exit(Effect.scoped(calledBefore))]) {
          const failure = Exit.isFailure(refused) ? Cause.failureOption(refused.cause) : Option.none()
          assert.isTrue(Option.isSome(failure) && failure.value instanceof StorageError, "a typed failure, the StorageError")
          assert.isFalse(Exit.isFailure(refused) && Cause.isDie(refused.cause), "no defect")
          assert.include((failure as Option.Some<StorageError>).value.message, "the Jobs service was closed")
        }
        assert.strictEqual(claimsAfterClose, 0, "the refused pools claimed nothing")
      }).pipe(Effect.scoped), 60_000)
  })
}
