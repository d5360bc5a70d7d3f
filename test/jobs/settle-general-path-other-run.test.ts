/**
 * Pins what a mutation audit (stop 76) found unpinned (mutant M79): a run's end on the general (locked) path — a store without `settleRun` —
 * after its run was taken away (recovered) and the job resumed under a new run: RunLost, nothing
 * written; the job stays running under the new run. README: a run no longer its job's active run
 * "(recovery stalled it, an operator moved the job): not ours" — Jobs.run fails with RunLost.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`general-path settle of a taken-away run, ${backend.name}`, () => {
    it.live("R6 a taken-away run's end on the general (locked) path is RunLost; the job stays running under its new run", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("general settle other run")
        const full = yield* database.store({ maxConnections: 10 })
        const { settleRun: _s, finishRunningJob: _f, ...store } = full
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store as JobStore["Type"]))), Jobs)
        const job = yield* jobs.submit({
          job_kind: "doc_summarize", protocol_id: "hsk.test.v1", profile_id: "tester",
          access_mode: "analysis_only", safety_mode: "normal", job_inputs: 1
        })
        const { run: runA } = yield* jobs.start(job.job_id)
        const go = yield* Deferred.make<void>()
        const started = yield* Deferred.make<void>()
        const running = yield* Effect.fork(Effect.exit(jobs.run(job.job_id, () =>
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.as(Deferred.await(go), { done: "by run A" })))))
        // Run A's program is running before its run is taken away: a fork not yet started would take run B instead
        // (a full verify at load ~10 saw it: the job completed by a Jobs.run that began after the resume).
        yield* Deferred.await(started)
        const ahead = DateTime.add(yield* DateTime.now, { hours: 1 })
        yield* store.stallStaleRuns({ heartbeatBefore: ahead, threshold: Duration.seconds(30), limit: 100 })
        const { run: runB } = yield* jobs.resume(job.job_id, { actor: "human", reason: "again" })
        assert.notStrictEqual(runB.id, runA.id)
        yield* Deferred.succeed(go, undefined)
        const exit = yield* Fiber.join(running)
        const after = yield* jobs.get(job.job_id)
        assert.strictEqual(after.state, "running", `the job still runs under run B (it is ${after.state})`)
        assert.strictEqual(after.workflow_run_id, runB.id)
        assert.isTrue(Exit.isFailure(exit), `run A's Jobs.run fails (RunLost): ${String(exit)}`)
      }).pipe(Effect.scoped), 60_000)
  })
}
