/**
 * Issue 16 (pickup) with issue 15.5, on SQLite (a file) and PostgreSQL: a
 * run's start does as little as it can before its program — its watch over
 * its job is a callback under the job's id (`WakeUp.watchJob`), and its
 * heartbeat and loss-watch fibers are forked after the program — without a
 * moment where a lost run goes unnoticed: the watch is in place when the
 * program starts, a change announced before the loss-watch fiber first runs
 * is heard (forced: the watch is started, the job cancelled and its
 * announcement delivered, and only then the watch's effect run), a cancel
 * committed by the program's very first step stops it at once, and the watch
 * ends with the run, however the run ends. The program starts before the
 * run's heartbeat is even set up (built and forked once the program's fiber
 * has run to its first wait), and the heartbeat then beats.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type { JobId } from "../../src/domain/Ids.js"
import { watchLoss } from "../../src/internal/engine/lossWatch.js"
import type * as WakeUp from "../../src/WakeUp.js"
import { summarize } from "../jobs/jobs.suite.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

/** The wake-up service, counting the watches open on each job. */
const countingWatches = () => {
  const open = new Map<string, number>()
  let delivered = 0
  const add = (jobId: JobId, n: number) => open.set(jobId, (open.get(jobId) ?? 0) + n)
  const wrap = (wakeUp: WakeUp.WakeUp["Type"]): WakeUp.WakeUp["Type"] => ({
    ...wakeUp,
    watchJob: (jobId, onSignal) => {
      add(jobId, 1)
      const close = wakeUp.watchJob(jobId, (signal) => {
        delivered++
        onSignal(signal)
      })
      let closed = false
      return () => {
        if (!closed) add(jobId, -1)
        closed = true
        close()
      }
    }
  })
  const total = () => [...open.values()].reduce((sum, n) => sum + n, 0)
  return { wrap, on: (jobId: JobId) => open.get(jobId) ?? 0, total, delivered: () => delivered }
}

for (const backend of sharedBackends) {
  describe(`issue 16 a run's start on ${backend.name}`, () => {
    it.live("issue 16 a run watches its job from before its program starts, and stops watching when it ends — completed, failed, lost or interrupted", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run start watch")
        const watches = countingWatches()
        const { jobs } = yield* engineOn(database, { wrapWake: watches.wrap })
        // Open when each program starts: exactly one watch on its own job.
        const seen: Array<number> = []
        const runOne = <E>(program: (jobId: JobId) => Effect.Effect<void, E>) =>
          Effect.gen(function*() {
            const job = yield* jobs.submit(summarize())
            yield* jobs.claimNext()
            const started = yield* Deferred.make<void>()
            const running = yield* Effect.fork(jobs.run(job.job_id, () =>
              Effect.zipRight(
                Effect.sync(() => seen.push(watches.on(job.job_id))),
                Effect.zipRight(Deferred.succeed(started, undefined), program(job.job_id))
              ), { heartbeatInterval: "1 hour" }))
            yield* Deferred.await(started)
            return { job, running }
          })

        const completed = yield* runOne(() => Effect.void)
        yield* Fiber.await(completed.running)
        const failed = yield* runOne(() => Effect.fail("broken"))
        yield* Fiber.await(failed.running)
        const lost = yield* runOne(() => Effect.never)
        yield* jobs.cancel(lost.job.job_id, { actor: "human", reason: "stop it" })
        const lostEnd = yield* Fiber.await(lost.running).pipe(Effect.timeoutOption("20 seconds"))
        assert.isTrue(Option.isSome(lostEnd), "the cancelled run was stopped")
        const interrupted = yield* runOne(() => Effect.never)
        yield* Fiber.interrupt(interrupted.running)

        assert.deepStrictEqual(seen, [1, 1, 1, 1], "each program started with its job watched")
        assert.deepStrictEqual(
          yield* Effect.forEach([completed, failed, lost, interrupted], ({ job }) => Effect.map(jobs.get(job.job_id), (j) => j.state)),
          ["completed", "failed", "cancelled", "queued"]
        )
        assert.strictEqual(watches.total(), 0, "no watch outlives its run")
      }).pipe(Effect.scoped), 90_000)

    it.live("issue 15.5 a cancel announced after a run's watch started but before its loss-watch effect first runs is heard: the watch reports the run lost at once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run start window")
        const watches = countingWatches()
        const { jobs, store, wakeUp } = yield* engineOn(database, { wrapWake: watches.wrap })
        const job = yield* jobs.submit(summarize())
        const claim = yield* jobs.claimNext()
        assert.isNotNull(claim)
        // The run's watch, as the runner starts it right before forking the program.
        const watch = watchLoss(watches.wrap(wakeUp), job.job_id, claim!.run.id, store.getJob)
        yield* jobs.cancel(job.job_id, { actor: "human", reason: "stop it" })
        // The announcement reaches the watch (PostgreSQL: the NOTIFY, after the commit) …
        while (watches.delivered() === 0) yield* realSleep(5)
        // … and only now does the loss watch run for the first time: it must not wait for another.
        const lost = yield* watch.lost.pipe(Effect.timeoutOption("20 seconds"))
        watch.close()
        assert.deepStrictEqual(lost, Option.some("cancelled"))
        assert.strictEqual(watches.total(), 0)
      }).pipe(Effect.scoped), 60_000)

    it.live("issue 16 pickup: a run's program starts before its heartbeat is set up, and the heartbeat then beats (Jobs.run: its take is the first beat, the next one interval later)", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run start heartbeat")
        // How often the runner asked the store for a heartbeat (the Effect built), and how many ran.
        let built = 0
        let beaten = 0
        let took = 0
        const { jobs } = yield* engineOn(database, {
          wrapStore: (store) => ({
            ...store,
            takeRun: (runId) => Effect.tap(store.takeRun(runId), () => took++),
            heartbeat: (runId) => {
              built++
              return Effect.tap(store.heartbeat(runId), () => {
                beaten++
              })
            }
          })
        })
        const job = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        const atStart: Array<number> = []
        yield* jobs.run(job.job_id, () =>
          Effect.gen(function*() {
            atStart.push(took, built, beaten)
            // The heartbeat runs once the program waits; Jobs.run's take wrote the first beat, so the next is an interval on.
            for (let waited = 0; beaten === 0 && waited < 10_000; waited += 5) yield* realSleep(5)
          }), { heartbeatInterval: "200 millis" })
        assert.deepStrictEqual(atStart, [1, 0, 0], "the run taken (its first beat); nothing of the heartbeat set up when the program started")
        assert.strictEqual(built, 1, "the heartbeat was set up once")
        assert.isAtLeast(beaten, 1, "and it beat")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "completed")
      }).pipe(Effect.scoped), 60_000)

    it.live("issue 15.5 a cancel committed by the program's first step stops it at once (heartbeat an hour away); cancelled once", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("run start cancel")
        const { jobs } = yield* engineOn(database)
        const job = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        const stopped = yield* Deferred.make<void>()
        const running = yield* Effect.fork(jobs.run(job.job_id, () =>
          jobs.cancel(job.job_id, { actor: "human", reason: "stop it" }).pipe(
            Effect.zipRight(Effect.onInterrupt(Effect.never, () => Deferred.succeed(stopped, undefined)))
          ), { heartbeatInterval: "1 hour" }))
        const ended = yield* Fiber.await(running).pipe(Effect.timeoutOption("20 seconds"))
        assert.isTrue(Option.isSome(ended), "the program was stopped")
        const exit = Option.getOrThrow(ended)
        assert.isTrue(exit._tag === "Failure" && String(exit.cause).includes("RunLost"), String(exit))
        assert.isTrue(yield* Deferred.isDone(stopped), "the program itself was interrupted")
        const history = yield* jobs.history(job.job_id)
        assert.strictEqual(history.job.state, "cancelled")
        assert.strictEqual(history.events.filter((event) => event.body["to_state"] === "cancelled").length, 1)
        assert.deepStrictEqual(history.runs.map(({ run }) => run.status), ["cancelled"])
      }).pipe(Effect.scoped), 60_000)
  })
}
