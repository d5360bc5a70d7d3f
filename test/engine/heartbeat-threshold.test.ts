/**
 * R9: a heartbeatInterval at or above the recovery threshold (30 s) lets
 * another process's recovery stall a run that beats on time — its program
 * stopped, its end refused. The threshold is that process's, which a run
 * cannot read, so such an interval is taken with a warning naming both: once
 * per `Jobs.run` call, once at a pool's start. One under it is taken quietly.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { sharedBackends } from "../jobs/shared-database.js"

/** The log lines written while the test runs: level and message. */
const capturingLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: (Array.isArray(message) ? message : [message]).map(String).join(" ") })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** The warnings about a heartbeat interval not under the recovery threshold. */
const thresholdWarnings = (lines: ReadonlyArray<{ readonly level: string; readonly message: string }>) =>
  lines.filter((line) => line.message.includes("recovery threshold"))

for (const backend of sharedBackends) {
  describe(`heartbeatInterval against the recovery threshold on ${backend.name}`, () => {
    it.effect("R9 Jobs.run with a heartbeatInterval of 45 seconds warns once, naming the interval and the 30 s threshold; 29 seconds does not; both runs complete", () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const database = yield* backend.fresh("heartbeat threshold run")
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        const quiet = yield* jobs.submit(summarize())
        yield* jobs.start(quiet.job_id)
        yield* jobs.run(quiet.job_id, () => Effect.void, { heartbeatInterval: "29 seconds" })
        assert.deepStrictEqual(thresholdWarnings(logs.lines), [], "29 s is under the threshold")
        const slow = yield* jobs.submit(summarize())
        yield* jobs.start(slow.job_id)
        yield* jobs.run(slow.job_id, () => Effect.void, { heartbeatInterval: "45 seconds" })
        const warnings = thresholdWarnings(logs.lines)
        assert.strictEqual(warnings.length, 1)
        assert.strictEqual(warnings[0]!.level, "WARN")
        assert.include(warnings[0]!.message, "heartbeatInterval 45s is not under the recovery threshold 30s (R9)")
        assert.strictEqual((yield* jobs.get(slow.job_id)).state, "completed", "warned, not refused")
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    }, 60_000)

    it.effect("R9 a pool whose run.heartbeatInterval is 30 seconds warns once at its start, before any job, naming both values", () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const database = yield* backend.fresh("heartbeat threshold pool")
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store()))), Jobs)
        yield* jobs.worker({ concurrency: 2, handler: () => Effect.void, run: { heartbeatInterval: "30 seconds" } })
        const warnings = thresholdWarnings(logs.lines)
        assert.strictEqual(warnings.length, 1)
        assert.strictEqual(warnings[0]!.level, "WARN")
        assert.include(warnings[0]!.message, "heartbeatInterval 30s is not under the recovery threshold 30s (R9)")
        yield* jobs.worker({ concurrency: 1, handler: () => Effect.void, run: { heartbeatInterval: "10 seconds" } })
        assert.strictEqual(thresholdWarnings(logs.lines).length, 1, "10 s: no warning")
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    }, 60_000)
  })
}
