/**
 * R9 on a server where several processes share the database: with
 * `Recovery.layerStartup({ sweepEvery })` a living process stalls the runs of
 * a worker that died after startup — at its next sweep, not at the next
 * restart — each exactly once with one `workflow_recovery` event; runs with a
 * fresh heartbeat are left alone. On a SQLite file and on PostgreSQL, under
 * the TestClock: each sweep is awaited (real I/O) before the clock moves on.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/TestClock"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep, sharedBackends } from "./shared-database.js"
import { countingSweeps } from "./sweeps.js"

/**
 * Waits (real time) until the next sweep is armed: a sleep due 10 s from the
 * clock's now. Moving the clock before that would arm it 10 s late.
 */
const nextSweepArmed: Effect.Effect<void> = Effect.gen(function*() {
  const due = (yield* Clock.currentTimeMillis) + 10_000
  while (!Chunk.toReadonlyArray(yield* TestClock.sleeps()).includes(due)) yield* realSleep(2)
})

/** The log lines written while `effect` runs (and by the fibers it forks): level and message. */
const capturingLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/**
 * The TestClock as a process that was paused sees it: `pause(ms)` moves the
 * time it reads (wall and monotonic) on by `ms` without firing any timer, as
 * SIGSTOP, a machine asleep or a blocked event loop do; the timers due then
 * fire late, when the TestClock is adjusted. Sleeps are the TestClock's.
 */
const pausableClock = (testClock: TestClock.TestClock) => {
  let paused = 0
  const millis = () => testClock.unsafeCurrentTimeMillis() + paused
  const nanos = () => testClock.unsafeCurrentTimeNanos() + BigInt(paused) * 1_000_000n
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    unsafeCurrentTimeNanos: nanos,
    currentTimeMillis: Effect.sync(millis),
    currentTimeNanos: Effect.sync(nanos),
    sleep: (duration) => testClock.sleep(duration)
  }
  return {
    clock,
    pause: (ms: number) => {
      paused += ms
    }
  }
}

for (const backend of sharedBackends) {
  describe(`R9 recovery sweeps on ${backend.name}`, () => {
    it.effect("R9 with sweepEvery, the run of a worker that died after startup is stalled at the next sweep once its heartbeat is 30 s old — exactly once, with one workflow_recovery event saying a sweep found it and one log line", () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const database = yield* backend.fresh("recovery sweep")
        // The worker that dies: it claims a job (its run beats once, at the claim) and is never heard of again.
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const lost = yield* dead.submit(summarize())
        const claim = (yield* dead.claimNext())!
        // This process: startup recovery finds nothing stale, then sweeps every 10 s.
        const sweeping = countingSweeps(yield* database.store())
        const context = yield* Layer.build(services(Layer.succeed(JobStore, sweeping.store), Recovery.layerStartup({ sweepEvery: "10 seconds" })))
        const jobs = Context.get(context, Jobs)
        yield* jobs.submit(summarize())
        yield* sweeping.atLeast(1)
        yield* nextSweepArmed
        assert.strictEqual((yield* jobs.get(lost.job_id)).state, "running", "startup recovery left the fresh run alone")
        // 10, 20 and 30 s: the heartbeat is not older than the threshold yet.
        for (let n = 2; n <= 4; n++) {
          yield* TestClock.adjust("10 seconds")
          yield* sweeping.atLeast(n)
          yield* nextSweepArmed
          assert.strictEqual((yield* jobs.get(lost.job_id)).state, "running", `sweep ${n - 1} stalled a run whose heartbeat was not stale`)
        }
        // 40 s: stale. Then more sweeps find nothing more to do.
        for (let n = 5; n <= 7; n++) {
          yield* TestClock.adjust("10 seconds")
          yield* sweeping.atLeast(n)
          yield* nextSweepArmed
        }
        assert.strictEqual((yield* jobs.get(lost.job_id)).state, "stalled")
        const store = Context.get(context, JobStore)
        const recoveries = (yield* store.listEvents({ types: ["workflow_recovery"] })).items
        assert.strictEqual(recoveries.length, 1, "one workflow_recovery event, whatever the number of sweeps")
        assert.strictEqual(recoveries[0]!.workflow_run_id, claim.run.id)
        // Its reason, and the job's, say a sweep found the run, not the startup gate.
        const why = (recoveries[0]!.body as { readonly reason: string }).reason
        assert.match(why, /^stalled \(recovery sweep: heartbeat timeout\): last heartbeat /)
        assert.strictEqual((yield* jobs.get(lost.job_id)).error_message, why)
        // What the process's log shows: the one sweep that stalled a run, nothing for the scans that found none.
        assert.deepStrictEqual(logs.lines.filter((line) => line.message.includes("recovery")), [{
          level: "INFO",
          message: "recovery sweep: stalled 1 workflow run(s) whose heartbeat was older than 30s, each with a workflow_recovery event"
        }])
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    }, 60_000)

    it.effect("R9 after sweeps failed (the database out of reach), the next sweep that reaches it gives workers one threshold to be heard again: a run beating again stays running, one still silent is stalled, once", () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const database = yield* backend.fresh("recovery sweep outage")
        const worker = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const live = yield* worker.submit(summarize())
        const liveClaim = (yield* worker.claimNext())!
        const dead = yield* worker.submit(summarize())
        const deadClaim = (yield* worker.claimNext())!
        // This process's sweeps, their database cut off on demand: each scan's reads and moves fail.
        let down = false
        let failed = 0
        const out = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | StorageError> =>
          Effect.suspend((): Effect.Effect<A, E | StorageError> => {
            if (!down) return effect
            failed++
            return Effect.fail(new StorageError({ operation: "sweep", cause: new Error("connection refused") }))
          })
        const real = yield* database.store()
        const cutOff: JobStore["Type"] = {
          ...real,
          stallStaleRuns: (options) => out(real.stallStaleRuns(options)),
          findStaleRuns: (options) => out(real.findStaleRuns(options))
        }
        yield* Layer.build(services(Layer.succeed(JobStore, cutOff), Recovery.layerStartup({ sweepEvery: "10 seconds" })))
        yield* nextSweepArmed
        // 50 s out of reach: every sweep fails, and no worker is heard from either.
        down = true
        for (let n = 1; n <= 5; n++) {
          yield* TestClock.adjust("10 seconds")
          while (failed < n) yield* realSleep(2)
          yield* nextSweepArmed
        }
        down = false
        // Back: both heartbeats are 50 s old, past the 30 s threshold. The sweep looks, and waits one threshold.
        const back = yield* Clock.currentTimeMillis
        yield* TestClock.adjust("10 seconds")
        // Either the wait for the threshold is armed, or (a sweep that did not wait) the next sweep.
        const armed = (sleeps: ReadonlyArray<number>) => sleeps.includes(back + 10_000 + 30_000) || sleeps.includes(back + 20_000)
        while (!armed(Chunk.toReadonlyArray(yield* TestClock.sleeps()))) yield* realSleep(2)
        assert.strictEqual((yield* worker.get(live.job_id)).state, "running", "not stalled the moment the database was back")
        assert.strictEqual((yield* worker.get(dead.job_id)).state, "running")
        // The live worker beats again; the dead one does not.
        yield* real.heartbeat(liveClaim.run.id)
        yield* TestClock.adjust("30 seconds")
        yield* nextSweepArmed
        assert.strictEqual((yield* worker.get(live.job_id)).state, "running", "heard from again: left running")
        assert.strictEqual((yield* worker.get(dead.job_id)).state, "stalled", "silent for a threshold since the database was back: stalled")
        // More sweeps (normal again, the live worker beating) stall nothing more.
        for (let n = 0; n < 2; n++) {
          yield* real.heartbeat(liveClaim.run.id)
          yield* TestClock.adjust("10 seconds")
          yield* nextSweepArmed
        }
        const recoveries = (yield* real.listEvents({ types: ["workflow_recovery"] })).items
        assert.deepStrictEqual(recoveries.map((event) => event.workflow_run_id), [deadClaim.run.id], "one event, for the silent run")
        const said = logs.lines.map((line) => line.message)
        const readAgain = said.indexOf("recovery sweep: the database can be read again; runs not heard from since are stalled in 30s if still silent")
        const answers = said.indexOf("recovery sweep: the database answers again (the sweep's stall went through)")
        assert.isAtLeast(readAgain, 0, "its read said before the wait")
        assert.isAbove(answers, readAgain, "that it answers again said once its stall went through")
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    }, 60_000)

    it.effect("R9 a sweep that wakes long after its interval because this process was paused (SIGSTOP, a machine asleep, a blocked event loop) does not stall the process's own live runs: they get one threshold to beat again; a run still silent then is stalled, once", () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const testClock = yield* TestClock.testClock()
        const process = pausableClock(testClock)
        /** Waits (real time) until the sweep sleeps until one of `dues` (TestClock time): it has done its pass. */
        const sweepSleepsUntil = (...dues: ReadonlyArray<number>) =>
          Effect.gen(function*() {
            while (!Chunk.toReadonlyArray(yield* testClock.sleeps).some((due) => dues.includes(due))) yield* realSleep(2)
          })
        yield* Effect.gen(function*() {
          const database = yield* backend.fresh("recovery sweep pause")
          const real = yield* database.store()
          // This process's run, and one of a process that died: both beat at the claim.
          const worker = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, real))), Jobs)
          const own = yield* worker.submit(summarize())
          const ownClaim = (yield* worker.claimNext())!
          const dead = yield* worker.submit(summarize())
          const deadClaim = (yield* worker.claimNext())!
          yield* Layer.build(services(Layer.succeed(JobStore, real), Recovery.layerStartup({ sweepEvery: "10 seconds" })))
          yield* sweepSleepsUntil(10_000)
          // Paused for 40 s: the sweep's timer fires first, 40 s late; both heartbeats are 50 s old.
          process.pause(40_000)
          yield* testClock.adjust("10 seconds")
          // Either the wait for the threshold is armed, or (a sweep that did not wait) the next sweep.
          yield* sweepSleepsUntil(40_000, 20_000)
          assert.strictEqual((yield* worker.get(own.job_id)).state, "running", "the late sweep stalled a run of its own process, which had no chance to beat")
          assert.strictEqual((yield* worker.get(dead.job_id)).state, "running")
          assert.deepStrictEqual((yield* real.listEvents({ types: ["workflow_recovery"] })).items, [])
          // The process's own run beats again; the dead one does not. One threshold later, the silent run is stalled.
          yield* real.heartbeat(ownClaim.run.id)
          yield* testClock.adjust("30 seconds")
          yield* sweepSleepsUntil(50_000)
          assert.strictEqual((yield* worker.get(own.job_id)).state, "running", "heard from again: left running")
          assert.strictEqual((yield* worker.get(dead.job_id)).state, "stalled", "silent for a threshold after the pause: stalled")
          const recoveries = (yield* real.listEvents({ types: ["workflow_recovery"] })).items
          assert.deepStrictEqual(recoveries.map((event) => event.workflow_run_id), [deadClaim.run.id], "one event, for the silent run")
          assert.deepInclude(logs.lines, {
            level: "WARN",
            message: "recovery sweep: woke 40s late (this process was paused or its event loop blocked); runs not heard from since are stalled in 30s if still silent"
          })
        }).pipe(Effect.withClock(process.clock))
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    }, 60_000)

    it.effect("R9 a bad sweepEvery closes intake with RecoveryFailed naming it, like any bad recovery option", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("recovery sweep bad")
        for (const sweepEvery of ["0 seconds", "soon", Infinity]) {
          const jobs = Context.get(
            yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), Recovery.layerStartup({ sweepEvery: sweepEvery as never }))),
            Jobs
          )
          const error = yield* Effect.flip(jobs.submit(summarize()))
          assert.strictEqual(error._tag, "RecoveryFailed", String(sweepEvery))
          assert.include(error.message, "sweepEvery")
        }
      }).pipe(Effect.scoped), 60_000)

    it.effect("R9 startup recovery is in the worker's log: one info line when it stalled runs (how many, the threshold), an error when it failed and intake is closed, nothing when it found nothing", () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const database = yield* backend.fresh("recovery log")
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        yield* dead.submit(summarize())
        yield* dead.submit(summarize())
        yield* dead.claimNext()
        yield* dead.claimNext()
        // A process that starts before the runs are stale logs nothing about recovery.
        const early = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), Recovery.layerStartup())), Recovery.RecoveryGate)
        assert.strictEqual((yield* early.result).recovered.length, 0)
        assert.deepStrictEqual(logs.lines, [])
        yield* TestClock.adjust("31 seconds")
        const gate = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), Recovery.layerStartup())), Recovery.RecoveryGate)
        assert.strictEqual((yield* gate.result).recovered.length, 2)
        assert.deepStrictEqual(logs.lines, [{
          level: "INFO",
          message: "startup recovery: stalled 2 workflow run(s) whose heartbeat was older than 30s, each with a workflow_recovery event"
        }])
        // A startup recovery that fails (retries used up) says so at ERROR: intake is closed until a later try succeeds.
        const real = yield* database.store()
        const broken = Layer.succeed(JobStore, {
          ...real,
          stallStaleRuns: () => Effect.fail(new StorageError({ operation: "JobStore.stallStaleRuns", cause: new Error("disk on fire") }))
        })
        const failed = Context.get(yield* Layer.build(services(broken, Recovery.layerStartup({ retries: 0 }))), Recovery.RecoveryGate)
        assert.strictEqual((yield* Effect.flip(failed.result))._tag, "RecoveryFailed")
        assert.deepStrictEqual(logs.lines.slice(1).map((line) => [line.level, line.message]), [[
          "ERROR",
          "startup recovery failed: no new job is accepted until it succeeds; trying again in 1s"
        ]])
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    }, 60_000)
  })
}
