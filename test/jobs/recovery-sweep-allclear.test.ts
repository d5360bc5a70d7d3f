/**
 * R9 every outage of the recovery sweeps ends with one all-clear line an
 * operator can wait for ("recovery sweep: the database answers again"),
 * found by a regression probe: the sweep after failed sweeps said nothing
 * when it found no running run to give a threshold — no run at all, or the
 * one it had waited for ended meanwhile (an operator cancelled it) — and the
 * outage ended silently after its WARNs. Now such a sweep runs the ordinary
 * sweep's stall (a write, which a write-locked SQLite file refuses) and says
 * the database answers again, with no run to stall, once that went through;
 * while it fails the outage goes on (another WARN). Both stores, under the
 * TestClock, their faults injected by wrapping the store.
 */
import { assert, describe, it } from "@effect/vitest"
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
import { armedIn } from "./sweeps.js"
import { realSleep, sharedBackends } from "./shared-database.js"

/** Waits (real time) until `done` holds. */
const until = (done: () => boolean, what: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 2_500; tries++) {
      if (done()) return
      yield* realSleep(2)
    }
    assert.fail(`never: ${what}`)
  })

/**
 * `real` with its sweeps' statements counted as they end, and failing on
 * demand: `down` fails reads and writes (the database out of reach),
 * `writesRefused` only the stall (a SQLite file another connection holds
 * write-locked is read as before).
 */
const faulty = (real: JobStore["Type"]) => {
  const state = { down: false, writesRefused: false, stallsEnded: 0 }
  const refused = (operation: string) =>
    Effect.fail(new StorageError({ operation, cause: new Error("simulated: connection refused") }))
  const store: JobStore["Type"] = {
    ...real,
    findStaleRuns: (options) => Effect.suspend(() => state.down ? refused("JobStore.findStaleRuns") : real.findStaleRuns(options)),
    stallStaleRuns: (options) =>
      Effect.suspend(() =>
        state.down || state.writesRefused ? refused("JobStore.stallStaleRuns") : real.stallStaleRuns(options)
      ).pipe(Effect.ensuring(Effect.sync(() => state.stallsEnded++)))
  }
  return { state, store }
}

for (const backend of sharedBackends) {
  describe(`R9 the end of a recovery-sweep outage, in the log, on ${backend.name}`, () => {
    it.effect("R9 sweeps failed with no running run (the database out of reach), then it is back: one line says the database answers again with no run to stall, and later sweeps say nothing more", () => {
      const log = capturingLog(["INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("sweep allclear idle")
        const { state, store } = faulty(yield* database.store())
        yield* Layer.build(Recovery.layerStartup({ sweepEvery: "10 seconds" }).pipe(Layer.provide(Layer.succeed(JobStore, store))))
        yield* armedIn(10_000)
        const swept = () => log.leveled.filter(([, line]) => line.startsWith("recovery sweep"))
        // Three sweeps out of reach: each fails.
        state.down = true
        for (let n = 1; n <= 3; n++) {
          yield* TestClock.adjust("10 seconds")
          yield* until(() => swept().length === n, `failed sweep ${n} logged`)
          yield* armedIn(10_000)
        }
        // Back: the next sweep finds no run to wait for, and its stall goes through.
        state.down = false
        yield* TestClock.adjust("10 seconds")
        yield* until(() => swept().length === 4, "the sweep after the outage logged")
        yield* armedIn(10_000)
        // Two more sweeps: ordinary again, nothing to say.
        for (let n = 0; n < 2; n++) {
          const ended = state.stallsEnded
          yield* TestClock.adjust("10 seconds")
          yield* until(() => state.stallsEnded > ended, "a later sweep's stall ended")
          yield* armedIn(10_000)
        }
        assert.deepStrictEqual(swept().map(([level, line]) => [level, line.split(";")[0]]), [
          ["WARN", "recovery sweep failed"],
          ["WARN", "recovery sweep failed"],
          ["WARN", "recovery sweep failed"],
          ["INFO", "recovery sweep: the database answers again"]
        ])
        assert.strictEqual(swept()[3]![1], "recovery sweep: the database answers again; no run to stall (the sweep's stall went through)")
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)

    it.effect("R9 a sweep read the database again but its stall was refused, then the run it waited for was cancelled: while the stall is still refused the outage goes on (another WARN, no all-clear); once it goes through, one line says the database answers again", () => {
      const log = capturingLog(["INFO", "WARN", "ERROR"])
      return Effect.gen(function*() {
        const database = yield* backend.fresh("sweep allclear cancelled")
        const real = yield* database.store()
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, real))), Jobs)
        const { state, store } = faulty(real)
        const gate = Context.get(
          yield* Layer.build(Recovery.layerStartup({ sweepEvery: "10 seconds" }).pipe(Layer.provide(Layer.succeed(JobStore, store)))),
          Recovery.RecoveryGate
        )
        assert.deepStrictEqual((yield* gate.result).recovered, [], "nothing stale at startup")
        yield* armedIn(10_000)
        // A run nobody beats for, claimed after startup (no second look for it).
        const job = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        const swept = () => log.leveled.filter(([, line]) => line.startsWith("recovery sweep"))
        state.writesRefused = true
        // 10 s: the sweep's stall is refused.
        yield* TestClock.adjust("10 seconds")
        yield* until(() => swept().length === 1, "the first failed sweep logged")
        yield* armedIn(10_000)
        // 20 s: the next sweep reads the run, waits one threshold, and its stall is refused again.
        yield* TestClock.adjust("10 seconds")
        yield* armedIn(30_000)
        yield* TestClock.adjust("30 seconds")
        yield* until(() => swept().length === 3, "the read again and the second failed sweep logged")
        yield* armedIn(10_000)
        // An operator cancels the job: no running run is left. The stall is still refused.
        yield* jobs.cancel(job.job_id, { reason: "operator" })
        yield* TestClock.adjust("10 seconds")
        yield* until(() => swept().length === 4, "the sweep with no run left logged")
        yield* armedIn(10_000)
        assert.deepStrictEqual(swept().filter(([, line]) => line.includes("answers again")), [], "not said while the stall is refused")
        // Writes go through again.
        state.writesRefused = false
        yield* TestClock.adjust("10 seconds")
        yield* until(() => swept().length === 5, "the sweep whose stall went through logged")
        yield* armedIn(10_000)
        const ended = state.stallsEnded
        yield* TestClock.adjust("10 seconds")
        yield* until(() => state.stallsEnded > ended, "a later sweep's stall ended")
        yield* armedIn(10_000)
        assert.deepStrictEqual(swept().map(([level, line]) => [level, line.split(";")[0]]), [
          ["WARN", "recovery sweep failed"],
          ["INFO", "recovery sweep: the database can be read again"],
          ["WARN", "recovery sweep failed"],
          ["WARN", "recovery sweep failed"],
          ["INFO", "recovery sweep: the database answers again"]
        ])
        assert.strictEqual(swept()[4]![1], "recovery sweep: the database answers again; no run to stall (the sweep's stall went through)")
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "cancelled", "the cancelled job was left as it was")
      }).pipe(Effect.scoped, log.provide)
    }, 60_000)
  })
}
