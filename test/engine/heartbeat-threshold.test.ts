/**
 * R9: a heartbeatInterval at or above the recovery threshold lets recovery
 * stall a run that beats on time — its program stopped, its end refused. The
 * threshold compared with is this process's Recovery's (its own sweeps stall
 * by it; 30 s where it runs none, R9's default for the other processes), so
 * such an interval is taken with a warning naming both: once per `Jobs.run`
 * call, once at a pool's start. One under it is taken quietly.
 *
 * An outside probe found the interval compared with 30 s whatever this
 * process's threshold: 15 s under a 10 s threshold was silent (the process's
 * own sweep stalled the run), 60 s under 120 s a false alarm naming 30 s.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"
import type * as FlightRecorder from "../../src/FlightRecorder.js"
import { Jobs } from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { type SharedBackend, sharedBackends } from "../jobs/shared-database.js"

/** Log lines: level and message. */
type LogLines = ReadonlyArray<{ readonly level: string; readonly message: string }>

/** The log lines written while the test runs: level and message. */
const capturingLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** The warnings about a heartbeat interval not under the recovery threshold. */
const thresholdWarnings = (lines: LogLines) =>
  lines.filter((line) => line.message.includes("recovery threshold"))

/** `test`, scoped, told the log lines written while it runs. */
const logged = <A, E>(test: (lines: LogLines) => Effect.Effect<A, E, Scope.Scope>) => {
  const logs = capturingLogs()
  return test(logs.lines).pipe(Effect.scoped, Effect.provide(logs.layer))
}

/** Jobs over a fresh database of `backend`, with this process's recovery `gate` (none unless given). */
const jobsOn = (
  backend: SharedBackend,
  label: string,
  gate: Layer.Layer<Recovery.RecoveryGate, never, JobStore | FlightRecorder.FlightRecorder> = Recovery.layerNoStartupRecovery
) =>
  Effect.gen(function*() {
    const database = yield* backend.fresh(label)
    return Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()), gate)), Jobs)
  })

/** A job submitted, started and run to its end by `Jobs.run` with `heartbeatInterval`; its id. */
const runWith = (jobs: Jobs["Type"], heartbeatInterval: Duration.DurationInput) =>
  Effect.gen(function*() {
    const job = yield* jobs.submit(summarize())
    yield* jobs.start(job.job_id)
    yield* jobs.run(job.job_id, () => Effect.void, { heartbeatInterval })
    return job.job_id
  })

/** `lines` hold exactly one threshold warning, a WARN that says `said`. */
const warnedOnce = (lines: LogLines, said: string) => {
  const warnings = thresholdWarnings(lines)
  assert.strictEqual(warnings.length, 1)
  assert.strictEqual(warnings[0]!.level, "WARN")
  assert.include(warnings[0]!.message, said)
}

for (const backend of sharedBackends) {
  describe(`heartbeatInterval against the recovery threshold on ${backend.name}`, () => {
    it.effect("R9 Jobs.run with a heartbeatInterval of 45 seconds warns once, naming the interval and the 30 s threshold; 29 seconds does not; both runs complete", () =>
      logged((lines) => Effect.gen(function*() {
        const jobs = yield* jobsOn(backend, "heartbeat threshold run")
        yield* runWith(jobs, "29 seconds")
        assert.deepStrictEqual(thresholdWarnings(lines), [], "29 s is under the threshold")
        const slow = yield* runWith(jobs, "45 seconds")
        warnedOnce(lines, "heartbeatInterval 45s is not under the recovery threshold 30s (R9)")
        assert.strictEqual((yield* jobs.get(slow)).state, "completed", "warned, not refused")
      })), 60_000)

    it.effect("R9 a pool whose run.heartbeatInterval is 30 seconds warns once at its start, before any job, naming both values", () =>
      logged((lines) => Effect.gen(function*() {
        const jobs = yield* jobsOn(backend, "heartbeat threshold pool")
        yield* jobs.worker({ concurrency: 2, handler: () => Effect.void, run: { heartbeatInterval: "30 seconds" } })
        warnedOnce(lines, "heartbeatInterval 30s is not under the recovery threshold 30s (R9)")
        yield* jobs.worker({ concurrency: 1, handler: () => Effect.void, run: { heartbeatInterval: "10 seconds" } })
        assert.strictEqual(thresholdWarnings(lines).length, 1, "10 s: no warning")
      })), 60_000)

    it.effect("R9 with this process's Recovery threshold of 10 seconds, Jobs.run with a heartbeatInterval of 15 seconds warns, naming 15s and 10s; 9 seconds does not", () =>
      logged((lines) => Effect.gen(function*() {
        const jobs = yield* jobsOn(backend, "heartbeat own threshold 10s", Recovery.layerStartup({ threshold: "10 seconds", sweepEvery: "1 hour" }))
        yield* runWith(jobs, "9 seconds")
        assert.deepStrictEqual(thresholdWarnings(lines), [], "9 s is under 10 s")
        yield* runWith(jobs, "15 seconds")
        warnedOnce(lines, "heartbeatInterval 15s is not under the recovery threshold 10s (R9)")
      })), 60_000)

    it.effect("R9 with this process's Recovery threshold of 120 seconds, a heartbeatInterval of 60 seconds is taken quietly by Jobs.run and a pool; 120 seconds warns, naming it (2m)", () =>
      logged((lines) => Effect.gen(function*() {
        const jobs = yield* jobsOn(backend, "heartbeat own threshold 120s", Recovery.layerStartup({ threshold: "120 seconds" }))
        yield* runWith(jobs, "60 seconds")
        yield* jobs.worker({ concurrency: 1, handler: () => Effect.void, run: { heartbeatInterval: "60 seconds" } })
        assert.deepStrictEqual(thresholdWarnings(lines), [], "60 s is under 120 s: no false alarm naming 30 s")
        yield* jobs.worker({ concurrency: 1, handler: () => Effect.void, run: { heartbeatInterval: "120 seconds" } })
        warnedOnce(lines, "heartbeatInterval 2m is not under the recovery threshold 2m (R9)")
      })), 60_000)

    it.effect("R9 with no recovery in this process (layerNoStartupRecovery), Jobs.run with a heartbeatInterval of 30 seconds warns, naming R9's default 30s", () =>
      logged((lines) => Effect.gen(function*() {
        yield* runWith(yield* jobsOn(backend, "heartbeat no recovery", Recovery.layerNoStartupRecovery), "30 seconds")
        warnedOnce(lines, "heartbeatInterval 30s is not under the recovery threshold 30s (R9)")
      })), 60_000)
  })
}
