/**
 * A program's finalizer (`Effect.addFinalizer`, in the run's scope) runs once
 * the run's end is written: its failure cannot change the job, so it does not
 * change what the run answers either, on SQLite and PostgreSQL. Before the
 * fix the job was `completed` with its outputs, yet `Jobs.run` failed with the
 * finalizer's defect and a pool logged that the job "did not complete" (found
 * by an outside probe). Now `Jobs.run` succeeds with the program's value, the
 * pool says nothing of a failure, and the finalizer's failure is a warning of
 * its own naming the job.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { capturingLog } from "../support/capturedLog.js"
import { engineOn } from "./engine.js"

const failingFinalizer = () =>
  Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Effect.die(new Error("cleanup failed")))
    return { result: 42 }
  })

for (const backend of sharedBackends) {
  describe(`a program's finalizer that fails after its run ended, on ${backend.name}`, () => {
    it.live("R8 Jobs.run of a completed job whose finalizer dies succeeds with the completion; the finalizer's failure is a warning", () =>
      Effect.gen(function*() {
        const log = capturingLog(["WARN", "ERROR"])
        const { jobs, store } = yield* engineOn(yield* backend.fresh("failing finalizer run"))
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const value = yield* log.provide(jobs.run(job.job_id, failingFinalizer))
        assert.deepStrictEqual(value, { result: 42 })
        const ended = yield* store.getJob(job.job_id)
        assert.strictEqual(ended.state, "completed")
        assert.deepStrictEqual(ended.job_outputs, { result: 42 })
        assert.strictEqual(log.leveled.length, 1, log.lines.join("\n"))
        assert.strictEqual(log.leveled[0]![0], "WARN")
        assert.include(log.lines[0], `job ${job.job_id}: a finalizer of its program failed after its run ended`)
      }).pipe(Effect.scoped), 60_000)

    it.live("R8 a pooled job whose finalizer dies is completed and not logged as a job that did not complete", () =>
      Effect.gen(function*() {
        const log = capturingLog(["WARN", "ERROR"])
        const { jobs } = yield* engineOn(yield* backend.fresh("failing finalizer pool"))
        yield* log.provide(jobs.worker({ concurrency: 1, pollInterval: "50 millis", handler: failingFinalizer }))
        const job = yield* jobs.submit(summarize())
        const done = yield* jobs.await(job.job_id, { timeout: "30 seconds" })
        assert.strictEqual(done.state, "completed")
        assert.deepStrictEqual(done.job_outputs, { result: 42 })
        // The pool's one loop reports a run's end before it claims again: once a second job is done, the first was reported.
        const second = yield* jobs.submit(summarize())
        assert.strictEqual((yield* jobs.await(second.job_id, { timeout: "30 seconds" })).state, "completed")
        // The second's finalizer runs after its end is written, which `await` may see first: wait for its warning
        // (a loaded full run saw only the first one).
        yield* Effect.sleep("10 millis").pipe(
          Effect.repeat({ until: () => log.lines.some((line) => line.includes(`job ${second.job_id}: a finalizer`)) }),
          Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`no warning for ${second.job_id}:\n${log.lines.join("\n")}`) })
        )
        assert.deepStrictEqual(log.lines.filter((line) => line.includes("did not complete")), [])
        assert.strictEqual(log.lines.length, 2, log.lines.join("\n"))
        assert.include(log.lines[0], `job ${job.job_id}: a finalizer of its program failed after its run ended`)
        assert.include(log.lines[1], `job ${second.job_id}: a finalizer of its program failed after its run ended`)
      }).pipe(Effect.scoped), 60_000)
  })
}
