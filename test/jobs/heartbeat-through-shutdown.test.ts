/**
 * A run's heartbeat through a pool's shutdown (found in review): the drain
 * time's interrupt reached the run's heartbeat fiber with its program, so a
 * program that ignores the interrupt — an uninterruptible region, a cleanup
 * that does not end — ran on while its run went silent. The pool waits for
 * such a program; but past the recovery threshold another process's sweep
 * stalled the run while it still ran, and its end was then refused. Now the
 * heartbeat beats until the program has really stopped: no sweep stalls the
 * run, and the job is released to `queued` once its program ends.
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
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep, sharedBackends } from "./shared-database.js"
import { sqliteMemory } from "../support/stores.js"

const onStore = (store: JobStore["Type"]) => Layer.build(services(Layer.succeed(JobStore, store)))
type Built = Effect.Effect.Success<ReturnType<typeof onStore>>

/** The pool's process, and the one that sweeps (the same where the database cannot be shared). */
interface Processes {
  readonly name: string
  readonly open: Effect.Effect<{ readonly worker: Built; readonly sweeper: Built }, unknown, Scope.Scope>
}

const processes: ReadonlyArray<Processes> = [
  {
    name: sqliteMemory.name,
    open: Effect.gen(function*() {
      const store = Context.get((yield* Layer.build(sqliteMemory.makeStore())) as Context.Context<JobStore>, JobStore)
      const worker = yield* onStore(store)
      return { worker, sweeper: worker }
    })
  },
  ...sharedBackends.map((backend): Processes => ({
    name: backend.name,
    open: Effect.gen(function*() {
      const database = yield* backend.fresh("heartbeat through shutdown")
      const worker = yield* onStore(yield* database.store())
      const sweeper = yield* onStore(yield* database.store())
      return { worker, sweeper }
    })
  }))
]

for (const { name, open } of processes) {
  describe(`a run's heartbeat through a pool's shutdown, on ${name}`, () => {
    it.effect("R9 a program that ignores the shutdown's interrupt keeps its run beating: another process's recovery sweep past the threshold stalls nothing, and the job is released to queued once the program ends", () => {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      })
      const letGo = Deferred.unsafeMake<void>(FiberId.none)
      return Effect.gen(function*() {
        const { sweeper, worker } = yield* open
        const jobs = Context.get(worker, Jobs)
        const store = Context.get(worker, JobStore)
        const job = yield* jobs.submit(summarize())
        const started = yield* Deferred.make<void>()
        const pool = yield* Scope.make()
        yield* Scope.extend(
          jobs.worker({
            concurrency: 1,
            pollInterval: "1 hour",
            drainTimeout: "100 millis",
            run: { heartbeatInterval: "1 second" },
            handler: () => Effect.uninterruptible(Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(letGo), { done: "late" })))
          }),
          pool
        )
        yield* Deferred.await(started)
        const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
        // The pool's WARN: the drain time's interrupt has been delivered, and the program ignores it.
        const said = () => warnings.some((line) => line.includes("does not respond to interruption"))
        for (let i = 0; i < 400 && !said(); i++) yield* realSleep(25)
        assert.isTrue(said(), "the shutdown interrupted the run, and its program runs on")
        // Past the recovery threshold (30 s) of job time, a second at a time: each beat due is written.
        for (let second = 0; second < 45; second++) {
          yield* TestClock.adjust("1 second")
          yield* realSleep(10)
        }
        const swept = yield* Effect.provide(Recovery.recoverStalledRuns(), sweeper)
        assert.deepStrictEqual(swept.recovered.map((run) => run.job_id), [], "the sweep stalled no run whose program still runs")
        const running = yield* store.getJob(job.job_id)
        assert.strictEqual(running.state, "running", "still running while its program runs")
        assert.isTrue(Option.isNone(yield* Fiber.poll(closing)), "shutdown waits for the program")
        yield* Deferred.succeed(letGo, undefined)
        yield* Fiber.join(closing)
        const released = yield* store.getJob(job.job_id)
        assert.strictEqual(released.state, "queued", "released once the program ended")
        assert.include(released.status_reason, "the worker shut down")
        assert.strictEqual((yield* store.getRun(running.workflow_run_id!)).status, "failed", "its run ended by the release, not stalled")
      }).pipe(
        Effect.ensuring(Deferred.succeed(letGo, undefined)),
        Effect.scoped,
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
    }, 60_000)
  })
}
