/**
 * Pins what a mutation audit (stop 76) found unpinned (mutant M15): a late ctx.securityViolation from a fiber that outlived run A, reported
 * while the job runs again under run B (failed, retried by the operator, started again), must
 * be recorded only — README: "A late `ctx.securityViolation` is recorded on the job, which stays
 * as it was (`poisoned: false`, `run_ended` the run's status)". Run B and the job stay untouched.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { services } from "./services.js"
import { sharedBackends } from "./shared-database.js"

for (const backend of sharedBackends) {
  describe(`late violation while the job runs under another run, ${backend.name}`, () => {
    it.effect("R6 a late ctx.securityViolation from run A while the job runs under run B is recorded only: the job stays running under B", () =>
      Effect.gen(function*() {
        const database = yield* backend.fresh("late violation other run")
        const store = yield* database.store({ maxConnections: 10 })
        const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
        const job = yield* jobs.submit({
          job_kind: "doc_summarize", protocol_id: "hsk.test.v1", profile_id: "tester",
          access_mode: "analysis_only", safety_mode: "normal", job_inputs: 1
        })
        const { run: runA } = yield* jobs.start(job.job_id)
        const go = yield* Deferred.make<void>()
        const reported = yield* Deferred.make<Exit.Exit<unknown, unknown>>()
        const exitA = yield* Effect.exit(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            yield* Effect.forkDaemon(Effect.flatMap(Deferred.await(go), () =>
              Effect.flatMap(Effect.exit(ctx.securityViolation({ violation: "prompt_injection", detail: "late" })), (e) => Deferred.succeed(reported, e))))
            return yield* Effect.fail("program failed")
          })))
        assert.isTrue(Exit.isFailure(exitA))
        assert.strictEqual((yield* jobs.get(job.job_id)).state, "failed")
        yield* jobs.retry(job.job_id, { actor: "human", reason: "again" })
        const { run: runB } = yield* jobs.start(job.job_id)
        assert.notStrictEqual(runB.id, runA.id)
        yield* Deferred.succeed(go, undefined)
        const exit = yield* Deferred.await(reported)
        const after = yield* jobs.get(job.job_id)
        assert.strictEqual(after.state, "running", "the job still runs under run B")
        assert.strictEqual(after.workflow_run_id, runB.id)
        assert.isTrue(Exit.isFailure(exit), "the late report fails with SecurityViolation")
        if (Exit.isFailure(exit)) {
          const text = String(exit.cause)
          assert.include(text, "SecurityViolation", `a typed SecurityViolation, got ${text}`)
          assert.notInclude(text, "Die", `no defect: ${text}`)
        }
        const history = yield* jobs.history(job.job_id)
        const violations = history.events.filter((e) => e.type === "security_violation")
        assert.lengthOf(violations, 1, "the violation is recorded")
      }).pipe(Effect.scoped))
  })
}
