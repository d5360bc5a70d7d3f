/**
 * Issue 11.3: closing a `Jobs.worker` pool mid-job is a graceful shutdown,
 * not a cancel. The pool stops claiming, lets running programs finish within
 * its drain time, and releases any job still unfinished back to `queued`
 * (the reserved release edge, with its event and a reason naming the
 * shutdown) for another worker — here another pool on its own store, as
 * another process would be. Before the fix the job ended `cancelled`
 * ("interrupted") and could never run again.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { audit } from "../reliability/invariants.js"
import type { Snapshot } from "../reliability/snapshot.js"
import { millis } from "../store/fixtures.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep, type SharedDatabase, sharedBackends } from "./shared-database.js"

/** Jobs over a store of their own on the shared database (another process, in effect). */
const jobsOn = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store())))
    return { jobs: Context.get(context, Jobs), store: Context.get(context, JobStore) }
  })

/** No job and no run anywhere is cancelled: only an explicit cancel does that. */
const nothingCancelled = (snapshot: Snapshot) => {
  assert.deepStrictEqual(snapshot.jobs.filter((job) => job.status === "cancelled"), [], "no job cancelled")
  assert.deepStrictEqual(snapshot.runs.filter((run) => run.status === "cancelled"), [], "no run cancelled")
}

/** Starts a pool in a scope of its own; returns the scope to close it with. */
const startPool = <E>(jobs: Jobs["Type"], handler: (context: RunContext) => Effect.Effect<{ readonly done: string }, E>, drainTimeout: Duration.DurationInput) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Scope.extend(jobs.worker({ concurrency: 1, pollInterval: "1 hour", drainTimeout, handler }), scope)
    return scope
  })

for (const backend of sharedBackends) {
  describe(`graceful worker shutdown on ${backend.name}`, () => {
    it.effect("R6 closing a worker pool mid-job lets the program finish within the drain time: completed, no new claim, nothing cancelled", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("shutdown drains")
        const { jobs, store } = yield* jobsOn(database)
        const first = yield* jobs.submit(summarize({ job_inputs: { n: 1 } }))
        const second = yield* jobs.submit(summarize({ job_inputs: { n: 2 } }))
        const started = yield* Deferred.make<AiJob>()
        const ended = yield* Deferred.make<void>()
        const pool = yield* startPool(jobs, (ctx) =>
          Effect.gen(function*() {
            yield* Deferred.succeed(started, ctx.job)
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 500)))
            yield* Deferred.succeed(ended, undefined)
            return { done: "in time" }
          }), "10 seconds")
        assert.strictEqual((yield* Deferred.await(started)).job_id, first.job_id)
        yield* Scope.close(pool, Exit.void)
        // Whether the program ended when closing returned, not how long closing took: a loaded machine's
        // stall between the program's start and this fiber's clock read made a duration fail (forced: 284 ms < 300).
        assert.isTrue(yield* Deferred.isDone(ended), "closing waited for the running program")
        const done = yield* store.getJob(first.job_id)
        assert.strictEqual(done.state, "completed")
        assert.deepStrictEqual(done.job_outputs, { done: "in time" })
        assert.strictEqual((yield* store.getJob(second.job_id)).state, "queued", "a closing pool claims nothing new")
        const snapshot = yield* database.snapshot
        nothingCancelled(snapshot)
        assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a program that outlasts the drain time is released to queued with its event, and another worker completes it", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("shutdown releases")
        const a = yield* jobsOn(database)
        const job = yield* a.jobs.submit(summarize())
        const started = yield* Deferred.make<void>()
        const pool = yield* startPool(a.jobs, (ctx) =>
          Effect.zipRight(
            Deferred.succeed(started, undefined),
            ctx.node({ node_id: "slow", node_type: "llm" }, Effect.as(Effect.never, { done: "never" }))
          ), "300 millis")
        yield* Deferred.await(started)
        yield* realSleep(50)
        const [first] = yield* a.store.listRuns(job.job_id)
        yield* Scope.close(pool, Exit.void)

        const released = yield* a.store.getJob(job.job_id)
        assert.strictEqual(released.state, "queued", "released, not cancelled")
        assert.include(released.status_reason, "shut down")
        const run = yield* a.store.getRun(first!.id)
        assert.strictEqual(run.status, "failed")
        assert.include(run.error_message ?? "", "shut down")
        const events = (yield* a.store.listEvents({ job_id: job.job_id, types: ["system"] })).items
        const last = events.at(-1)!
        assert.deepStrictEqual([last.body["from_state"], last.body["to_state"]], ["running", "queued"])
        assert.include(String(last.body["reason"]), "shut down")

        // Another worker (its own store) picks it up and finishes it, under a new run.
        const b = yield* jobsOn(database)
        const finished = yield* Deferred.make<void>()
        const other = yield* startPool(b.jobs, () => Effect.as(Deferred.succeed(finished, undefined), { done: "by b" }), "1 second")
        yield* Deferred.await(finished)
        yield* Scope.close(other, Exit.void)
        const done = yield* b.store.getJob(job.job_id)
        assert.strictEqual(done.state, "completed")
        assert.deepStrictEqual(done.job_outputs, { done: "by b" })
        const runs = yield* b.store.listRuns(job.job_id)
        assert.deepStrictEqual(runs.map((r) => r.status), ["failed", "completed"])
        const snapshot = yield* database.snapshot
        nothingCancelled(snapshot)
        assert.deepStrictEqual(audit(snapshot, { quiescent: true }), [])
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a job released at a pool's shutdown has its updated_at at the release's instant — its record's timestamp (body too) and its run's updated_at — though the clock moved on before the run's duration was written", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("shutdown release instant")
        const own = yield* database.store()
        // The release's answer comes a second after its instant (a loaded database): the run's duration,
        // written next in its transaction, reads a later clock. It was stamped there, past the release.
        const store: JobStore["Type"] = {
          ...own,
          releaseRun: (runId, options) => Effect.tap(own.releaseRun(runId, options), () => TestClock.adjust("1 second"))
        }
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const job = yield* jobs.submit(summarize())
        const started = yield* Deferred.make<void>()
        const pool = yield* startPool(jobs, () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never), "50 millis")
        yield* Deferred.await(started)
        yield* Scope.close(pool, Exit.void)

        const released = yield* own.getJob(job.job_id)
        assert.strictEqual(released.state, "queued")
        const [run] = yield* own.listRuns(job.job_id)
        const release = (yield* own.listEvents({ job_id: job.job_id, types: ["system"] })).items.at(-1)!
        assert.deepStrictEqual([release.body["from_state"], release.body["to_state"]], ["running", "queued"])
        assert.deepStrictEqual(
          { job: millis(released.updated_at), run: millis(run!.updated_at), body: release.body["timestamp"] },
          { job: millis(release.timestamp), run: millis(release.timestamp), body: DateTime.formatIso(release.timestamp) },
          "the job's updated_at, its run's and the release record's (columns and body) are one instant"
        )
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 interrupting the fiber that owns a pool's scope drains the same way: its job is released, not cancelled", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("shutdown interrupted")
        const { jobs, store } = yield* jobsOn(database)
        const job = yield* jobs.submit(summarize())
        const started = yield* Deferred.make<void>()
        const app = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          yield* jobs.worker({
            concurrency: 2,
            drainTimeout: "200 millis",
            handler: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
          })
          return yield* Effect.never
        })))
        yield* Deferred.await(started)
        // A timer of the drain time armed before the interrupt: Node fires the timers of one duration in the
        // order they were armed, so an owner that waited out its drain returns only after this one fired. Not
        // a measured ">= 180 ms": a timer armed late in a long event-loop turn (a loaded machine) fires short
        // of its time counted from a clock read before it.
        let drainTimePassed = false
        const drainTime = setTimeout(() => (drainTimePassed = true), 200)
        yield* Fiber.interrupt(app)
        clearTimeout(drainTime)
        assert.isTrue(drainTimePassed, "the interrupted owner still waited out the drain time")
        const released = yield* store.getJob(job.job_id)
        assert.strictEqual(released.state, "queued")
        assert.include(released.status_reason, "drain time 200ms")
        nothingCancelled(yield* database.snapshot)
      }).pipe(Effect.scoped), 60_000)

    it.effect("R6 a program that ignores the drain time's interrupt (uninterruptible) holds shutdown until it ends, and the pool says so once, at WARN, naming its job; its job is then released to queued", () => {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      })
      const letGo = Deferred.unsafeMake<void>(FiberId.none)
      return Effect.gen(function*() {
        const database = yield* backend.fresh("shutdown uninterruptible")
        const { jobs, store } = yield* jobsOn(database)
        const job = yield* jobs.submit(summarize())
        const started = yield* Deferred.make<void>()
        const pool = yield* startPool(jobs, () =>
          Effect.uninterruptible(Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(letGo), { done: "late" }))), "100 millis")
        yield* Deferred.await(started)
        const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
        const said = () => warnings.filter((line) => line.includes("does not respond to interruption"))
        for (let i = 0; i < 400 && said().length === 0; i++) yield* realSleep(25)
        assert.strictEqual(said().length, 1, "a WARN says why shutdown waits")
        assert.include(said()[0], job.job_id)
        assert.isTrue(Option.isNone(yield* Fiber.poll(closing)), "shutdown waits for the program")
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "running", "not released while its program runs")
        yield* Deferred.succeed(letGo, undefined)
        yield* Fiber.join(closing)
        assert.strictEqual(said().length, 1, "said once")
        // Its program finished, but an uninterruptible region that was interrupted exits interrupted: released.
        assert.strictEqual((yield* store.getJob(job.job_id)).state, "queued")
        nothingCancelled(yield* database.snapshot)
      }).pipe(
        // Never left waiting: on code that does not say so, the test fails above, then lets the program end.
        Effect.ensuring(Deferred.succeed(letGo, undefined)),
        Effect.scoped,
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
    }, 60_000)
  })
}
