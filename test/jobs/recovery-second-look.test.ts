/**
 * R9 a restart within the threshold. A worker process that dies and is
 * restarted at once leaves runs whose heartbeat is only seconds old: startup
 * recovery rightly leaves them (not stale yet), and without a sweep nothing
 * stalled them until the next restart — the jobs stayed `running` under runs
 * nobody runs. `Recovery.layerStartup` now takes a second look one threshold
 * after startup: the runs not heard from since startup are stalled then, by
 * the same statement (exactly once, one `workflow_recovery` event each); a
 * run whose worker lives and beats is left alone; a look that fails is tried
 * again. On a SQLite file and on PostgreSQL, under the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { StorageError } from "../../src/store/StoreErrors.js"
import { capturingLog } from "../support/capturedLog.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { realSleep, sharedBackends } from "./shared-database.js"

/** Waits (real time) until a sleep due at `due` ms on the TestClock is armed. */
const armedAt = (due: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 2_500; tries++) {
      if (Chunk.toReadonlyArray(yield* TestClock.sleeps()).includes(due)) return
      yield* realSleep(2)
    }
    assert.fail(`no sleep due at ${due} ms; armed: ${Chunk.toReadonlyArray(yield* TestClock.sleeps()).join(", ")}`)
  })

/** Waits (real time) until a line holding `text` is logged: a look's last step, after its commit. */
const untilLogged = (lines: ReadonlyArray<string>, text: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 2_500; tries++) {
      if (lines.some((line) => line.includes(text))) return
      yield* realSleep(2)
    }
    assert.fail(`nothing logged with "${text}"; logged: ${lines.join(" | ")}`)
  })

for (const backend of sharedBackends) {
  describe(`R9 startup recovery's second look on ${backend.name}`, () => {
    it.effect("R9 a process restarted 10 s after its worker died: the dead run is left at startup and stalled one threshold later, once, with one workflow_recovery event; a run that beats since startup is left alone", () => {
      const log = capturingLog(["INFO", "WARN"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("second look")
        // Two workers claim a job each at 0 s; one dies there, the other lives on.
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const lost = yield* dead.submit(summarize())
        const lostClaim = (yield* dead.claimNext())!
        const living = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const alive = yield* living.submit(summarize())
        const aliveClaim = (yield* living.claimNext())!
        // The dead worker's process is restarted 10 s later: at startup neither run is stale.
        yield* TestClock.adjust("10 seconds")
        const context = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), Recovery.layerStartup()))
        const gate = Context.get(context, Recovery.RecoveryGate)
        assert.deepStrictEqual((yield* gate.result).recovered, [], "startup leaves runs that are not stale yet")
        // The second look is due one threshold after startup (10 s + 30 s).
        yield* armedAt(40_000)
        const store = Context.get(context, JobStore)
        assert.strictEqual((yield* store.getJob(lost.job_id)).state, "running")
        // The living worker beats at 20 s; nothing is heard of the dead one.
        yield* TestClock.adjust("10 seconds")
        yield* (yield* database.store()).heartbeat(aliveClaim.run.id)
        yield* TestClock.adjust("20 seconds")
        // Until the look has ended: its commit comes before its log line, so wait for the line, not the state.
        yield* untilLogged(log.lines, "second look: stalled")
        assert.strictEqual((yield* store.getJob(lost.job_id)).state, "stalled", "the dead run is stalled at the second look")
        assert.strictEqual((yield* store.getJob(alive.job_id)).state, "running", "a run heard from since startup is left alone")
        const recoveries = (yield* store.listEvents({ types: ["workflow_recovery"] })).items
        assert.deepStrictEqual(recoveries.map((event) => event.workflow_run_id), [lostClaim.run.id])
        assert.deepStrictEqual(log.lines.filter((line) => line.includes("recovery")), [
          "startup recovery, second look: stalled 1 workflow run(s) whose heartbeat was older than 30s, each with a workflow_recovery event"
        ])
        // Looked at once: a scan later finds nothing more of the dead run.
        yield* TestClock.adjust("60 seconds")
        assert.deepStrictEqual((yield* Recovery.recoverStalledRuns().pipe(Effect.provideService(JobStore, store))).recovered.map((run) => run.id), [aliveClaim.run.id])
        assert.strictEqual((yield* store.listEvents({ types: ["workflow_recovery"] })).items.length, 2, "each run once")
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)

    it.effect("R9 a second look that fails (the database gone for it) is tried again 1 s later and stalls the dead run then — once, with one event", () => {
      const log = capturingLog(["INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("second look retried")
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const lost = yield* dead.submit(summarize())
        const lostClaim = (yield* dead.claimNext())!
        yield* TestClock.adjust("10 seconds")
        // The real store, but its stall statement refused while `down` (the README's way to inject a fault).
        const real = yield* database.store()
        let down = false
        const flaky = Layer.succeed(JobStore, {
          ...real,
          stallStaleRuns: (options) =>
            down ? Effect.fail(new StorageError({ operation: "JobStore.stallStaleRuns", cause: new Error("connection lost") })) : real.stallStaleRuns(options)
        })
        const context = yield* Layer.build(services(flaky, Recovery.layerStartup({ retries: 0 })))
        assert.deepStrictEqual((yield* Context.get(context, Recovery.RecoveryGate).result).recovered, [])
        yield* armedAt(40_000)
        down = true
        yield* TestClock.adjust("30 seconds")
        // The look failed at 40 s; the next is due 1 s later.
        yield* armedAt(41_000)
        assert.strictEqual((yield* real.getJob(lost.job_id)).state, "running")
        down = false
        yield* TestClock.adjust("1 second")
        yield* untilLogged(log.lines, "second look: stalled")
        assert.strictEqual((yield* real.getJob(lost.job_id)).state, "stalled", "stalled by the look tried again")
        const recoveries = (yield* real.listEvents({ types: ["workflow_recovery"] })).items
        assert.deepStrictEqual(recoveries.map((event) => event.workflow_run_id), [lostClaim.run.id], "one event")
        assert.deepStrictEqual(log.leveled.filter(([, line]) => line.includes("second look")), [
          ["WARN", "startup recovery's second look failed (try 1); trying again in 1s"],
          ["INFO", "startup recovery, second look: stalled 1 workflow run(s) whose heartbeat was older than 30s, each with a workflow_recovery event"]
        ])
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)

    it.effect("R9 no second look when startup leaves no run from before it (nothing running, or every such run stalled at startup)", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("no second look")
        const dead = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        yield* dead.submit(summarize())
        yield* dead.claimNext()
        yield* TestClock.adjust("31 seconds")
        const gate = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), Recovery.layerStartup())), Recovery.RecoveryGate)
        assert.strictEqual((yield* gate.result).recovered.length, 1)
        // The second look has read the runs left (none) by the time a moment of real time passes:
        // nothing is armed for one threshold after startup (31 s + 30 s).
        yield* realSleep(200)
        assert.notInclude(Chunk.toReadonlyArray(yield* TestClock.sleeps()), 61_000)
      }).pipe(Effect.scoped), 60_000)
  })
}
