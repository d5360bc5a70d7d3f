/**
 * R8 graceful shutdown, PostgreSQL's group commit (regression probe, f137):
 * two worker pools on one store. Pool 2's run end (job B) is sent and waits
 * on a lock another session holds; pool 1 shuts down and its job A's run end
 * lines up behind B's statement of the same kind, not sent. The drain's end
 * cut interrupted A's write, but a queued call did not leave the line and the
 * cancel found no statement carrying A: pool 1's shutdown waited for the
 * lock, its WARN said the write was cut with nothing of it written, and A
 * ended `completed` once the lock went. Now the queued call is withdrawn —
 * never part of a later batch — the shutdown returns while the lock is held,
 * A stays `running` under its run (recovery's), and the one WARN naming A says
 * what the database holds. A caller queued beside it and not cut (pool 2's
 * job C) still has its end written. And a cut that could not stop the write
 * (a store with no cancel path: the end's statement went on once the lock
 * went) is not told as cut: its WARN says the end was written, as it was.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import { currentDrainCut } from "../../src/internal/jobs/drainCut.js"
import type { AiJob } from "../../src/domain/AiJob.js"
import { Jobs, type RunContext } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { capturingLog } from "../support/capturedLog.js"
import { holdTable } from "../support/tableHold.js"
import { summarize } from "./jobs.suite.js"
import { assertCutLeftRunning, cutWarnings, poolReturningOnCue } from "./cutEnd.js"
import { endsBeforeRelease } from "./lockOrder.js"
import { services } from "./services.js"
import { postgresShared, realSleep } from "./shared-database.js"

/** Only so that the old code fails instead of hanging: the assertion is the order of events. */
const HANG_BOUND_MS = 20_000

/** One gate per job id, made on first use: whichever side comes first. */
const gates = () => {
  const made = new Map<string, Deferred.Deferred<void>>()
  return (id: string) => {
    let gate = made.get(id)
    if (gate === undefined) made.set(id, gate = Deferred.unsafeMake<void>(FiberId.none))
    return gate
  }
}

/** Waits until `job_id` is in `state` (pool 2's ends, written once the lock goes). */
const reaches = (store: JobStore["Type"], job_id: AiJob["job_id"], state: AiJob["state"]) =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 2_000; tries++) {
      if ((yield* store.getJob(job_id)).state === state) return
      yield* realSleep(10)
    }
    assert.fail(`job ${job_id} never reached ${state}`)
  })

const scenario = (withMate: boolean) => {
  const log = capturingLog(["DEBUG", "WARN"])
  return Effect.gen(function*() {
    const database = yield* postgresShared.fresh("shutdown settle cut queued")
    // PgStore.layer with its defaults: group commit on.
    const store = yield* database.store()
    // A run's end reaches the store's settle (and, behind a statement of its kind in flight, its line) after this.
    const settling = gates()
    const hooked: JobStore["Type"] = {
      ...store,
      settleRun: (settle) => Effect.zipRight(Deferred.succeed(settling(settle.job_id), undefined), store.settleRun!(settle))
    }
    const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, hooked))), Jobs)
    const started = gates()
    const letReturn = gates()
    const running = new Map<string, AiJob>()
    // Returns when told, not interrupted: a run's end written during pool 1's drain.
    const handler = (ctx: RunContext) =>
      Effect.gen(function*() {
        running.set(ctx.job.job_id, ctx.job)
        yield* Deferred.succeed(started(ctx.job.job_id), undefined)
        yield* Deferred.await(letReturn(ctx.job.job_id))
        return { done: "returned" }
      })
    const worker = (concurrency: number) => jobs.worker({ concurrency, pollInterval: "1 hour", drainTimeout: "1 hour", handler })

    // Pool 1 runs A; its drain ends when the test says (as a repeated signal would).
    const a = yield* jobs.submit(summarize())
    const cut = yield* Deferred.make<void>()
    const pool1 = yield* Scope.make()
    yield* Scope.extend(worker(1), pool1).pipe(Effect.locally(currentDrainCut, cut))
    yield* Deferred.await(started(a.job_id))
    // Pool 2 runs B (and C), and does not shut down.
    const b = yield* jobs.submit(summarize())
    const c = withMate ? yield* jobs.submit(summarize()) : undefined
    const pool2 = yield* Scope.make()
    yield* Scope.extend(worker(withMate ? 2 : 1), pool2)
    yield* Deferred.await(started(b.job_id))
    if (c !== undefined) yield* Deferred.await(started(c.job_id))

    const hold = yield* holdTable(database.url, "ai_jobs")
    // B's end is sent and waits on the lock: the settle's one statement in flight.
    yield* Deferred.succeed(letReturn(b.job_id), undefined)
    yield* Deferred.await(settling(b.job_id))
    yield* hold.blocked
    // C's end lines up behind it (not cut: pool 2 is not shutting down).
    if (c !== undefined) {
      yield* Deferred.succeed(letReturn(c.job_id), undefined)
      yield* Deferred.await(settling(c.job_id))
    }
    const closing = yield* Effect.fork(Scope.close(pool1, Exit.void))
    while (!log.lines.some((line) => line.startsWith("worker pool: shutting down"))) yield* realSleep(10)
    // A's end (written during the drain, so cuttable) lines up too, beside C.
    yield* Deferred.succeed(letReturn(a.job_id), undefined)
    yield* Deferred.await(settling(a.job_id))
    yield* Deferred.succeed(cut, undefined)
    yield* endsBeforeRelease(closing, hold.release, HANG_BOUND_MS)

    // The lock is gone: pool 2's ends are written, C's beside A's withdrawn one.
    yield* reaches(store, b.job_id, "completed")
    if (c !== undefined) yield* reaches(store, c.job_id, "completed")
    // Even once the lock went.
    yield* assertCutLeftRunning(store, a.job_id, running.get(a.job_id)!.workflow_run_id!, log)
    yield* Scope.close(pool2, Exit.void)
  }).pipe(Effect.scoped, log.provide, Logger.withMinimumLogLevel(LogLevel.Debug))
}

/** A cut the write outlives: the store cannot cancel (as through `layerFromClient`), so the sent end commits once the lock goes. */
const uncancellable = () => {
  const log = capturingLog(["DEBUG", "WARN"])
  return Effect.gen(function*() {
    const database = yield* postgresShared.fresh("shutdown settle cut too late")
    const store = yield* database.store()
    const { cancelWritesOf: _cancel, ...noCancel } = store
    const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, noCancel))), Jobs)
    const job = yield* jobs.submit(summarize())
    const { started, letReturn, cut, pool } = yield* poolReturningOnCue(jobs)
    yield* Deferred.await(started)
    const hold = yield* holdTable(database.url, "ai_jobs")
    const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
    while (!log.lines.some((line) => line.startsWith("worker pool: shutting down"))) yield* realSleep(10)
    yield* Deferred.succeed(letReturn, undefined)
    yield* hold.blocked
    yield* Deferred.succeed(cut, undefined)
    // The pool says the write still waits and cannot be cancelled; then the lock goes and it commits.
    while (!log.lines.some((line) => line.includes("the library's own write of their run's end (the release back to queued, or an end the store cannot cancel)"))) yield* realSleep(10)
    yield* hold.release
    yield* Fiber.join(closing)
    assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed", "the end was written after all")
    const said = cutWarnings(log)
    assert.strictEqual(said.length, 1, said.join(" | "))
    assert.include(said[0], job.job_id)
    assert.include(said[0], "not cut in time")
    assert.include(said[0], "the job is completed now")
    assert.notInclude(said[0], "nothing of it written")
  }).pipe(Effect.scoped, log.provide, Logger.withMinimumLogLevel(LogLevel.Debug))
}

describe("a run's end queued under PostgreSQL's group commit at the drain's end", () => {
  it.live(
    "R8 an end queued behind another pool's statement is withdrawn by the cut: shutdown returns before the lock is let go, the job stays running under its run, and the one WARN naming it is true",
    () => scenario(false),
    60_000
  )
  it.live(
    "R8 an end queued beside another pool's end is withdrawn alone: that other end, not cut, is still written",
    () => scenario(true),
    60_000
  )
  it.live(
    "R8 a cut the write outlives (no cancel path, its statement already sent) is not told as cut: the WARN says the end was written, and the job is completed",
    () => uncancellable(),
    60_000
  )
})
