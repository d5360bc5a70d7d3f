/**
 * A worker pool tells its process's log when a run it started did not succeed
 * (as graphile-worker logs a failed task), on SQLite and PostgreSQL: a program
 * that fails is a warning naming the job, with the cause; a run taken away
 * while its program ran (an operator's cancel here) is an info line saying so.
 * Both were logged at debug level only, so nobody watching the workers saw them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { RunLost } from "../../src/Jobs.js"
import { summarize } from "../jobs/jobs.suite.js"
import { realSleep, sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

interface Line {
  readonly level: string
  readonly message: string
  readonly jobId: unknown
}

/** The pool's lines about a job's run, with their level and the job they are annotated with. */
const poolLines = () => {
  const lines: Array<Line> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    if (text.startsWith("worker pool: job")) {
      lines.push({ level: logLevel.label, message: text, jobId: HashMap.get(annotations, "job_id").pipe((o) => o._tag === "Some" ? o.value : undefined) })
    }
  })
  return { lines, logger }
}

for (const backend of sharedBackends) {
  describe(`a worker pool's log on ${backend.name}`, () => {
    it.live("R6 R8 a pooled program that fails is a warning naming its job; a run taken away while it ran is an info line; a success logs nothing", () =>
      Effect.gen(function*() {
        const { lines, logger } = poolLines()
        const database = yield* backend.fresh("pool logs")
        const { jobs } = yield* engineOn(database)
        const started = yield* Deferred.make<void>()
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: "50 millis",
          handlers: {
            doc_summarize: () => Effect.fail(new Error("the model refused")),
            doc_edit: () => Effect.succeed({ ok: true }),
            doc_rewrite: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
          }
        }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.Debug))

        const ok = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
        assert.strictEqual((yield* jobs.await(ok.job_id, { timeout: "30 seconds" })).state, "completed")
        const failing = yield* jobs.submit(summarize())
        assert.strictEqual((yield* jobs.await(failing.job_id, { timeout: "30 seconds" })).state, "failed")
        const taken = yield* jobs.submit(summarize({ job_kind: "doc_rewrite" }))
        yield* Deferred.await(started)
        yield* jobs.cancel(taken.job_id, { reason: "operator" })
        for (let i = 0; i < 200 && lines.length < 2; i++) yield* realSleep(25)

        assert.deepStrictEqual(lines.map((line) => [line.level, line.jobId]), [["WARN", failing.job_id], ["INFO", taken.job_id]])
        assert.include(lines[0]!.message, `worker pool: job ${failing.job_id} (doc_summarize) did not complete`)
        assert.include(lines[1]!.message, "run was taken away (now cancelled)")
      }).pipe(Effect.scoped), 60_000)

    it.live("R6 R8 a pooled program that fails with another run's RunLost (a nested Jobs.run) is a warning that it did not complete, not a run taken away", () =>
      Effect.gen(function*() {
        const { lines, logger } = poolLines()
        const database = yield* backend.fresh("pool logs nested")
        const { jobs } = yield* engineOn(database)
        const other = yield* jobs.submit(summarize({ job_kind: "doc_edit" }))
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: "50 millis",
          kinds: ["doc_summarize"],
          handler: () => Effect.fail(new RunLost({ job_id: other.job_id, workflow_run_id: other.job_id, status: "cancelled" }))
        }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)), Logger.withMinimumLogLevel(LogLevel.Debug))

        const failing = yield* jobs.submit(summarize())
        const failed = yield* jobs.await(failing.job_id, { timeout: "30 seconds" })
        assert.strictEqual(failed.state, "failed")
        assert.include(failed.error_message ?? "", "RunLost")
        for (let i = 0; i < 200 && lines.length < 1; i++) yield* realSleep(25)

        assert.deepStrictEqual(lines.map((line) => [line.level, line.jobId]), [["WARN", failing.job_id]])
        assert.include(lines[0]!.message, `worker pool: job ${failing.job_id} (doc_summarize) did not complete`)
      }).pipe(Effect.scoped), 60_000)
  })
}
