/**
 * A run's context used after `Jobs.run` returned (found by an outside probe):
 * a program may fork a fiber (`Effect.forkDaemon`) that outlives its run and
 * keeps the `RunContext`. `ctx.node` then never returned — a write that found
 * the run no longer active waited for the run's race to stop the program, and
 * that race was over. Now it writes nothing and fails at once with
 * `RunNotActive`, naming the status the run ended with (`RunLost` is
 * `Jobs.run`'s answer, and that call has returned). A late
 * `ctx.securityViolation` is recorded on the ended job, which stays as it
 * was, and its error says the run had ended (its status) — it said the run
 * had been taken away.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { Jobs, type RunContext, SecurityViolation } from "../../src/Jobs.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { Json } from "../../src/domain/Json.js"
import { RunNotActive } from "../../src/store/StoreErrors.js"
import { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"
import { type SharedDatabase, sharedBackends } from "./shared-database.js"

const jobsOn = (database: SharedDatabase) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(services(Layer.succeed(JobStore, yield* database.store())))
    return { jobs: Context.get(context, Jobs), store: Context.get(context, JobStore) }
  })

/** Runs the job under `Jobs.run` with `outcome` as its program; returns the context it was given, kept past the run. */
const keptContext = <A extends Json, E>(jobs: Jobs["Type"], jobId: JobId, outcome: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    let kept: RunContext | undefined
    yield* Effect.exit(jobs.run(jobId, (ctx) => {
      kept = ctx
      return outcome
    }))
    return kept!
  })

/** The failure of `exit`, which must be one. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), "the call failed")
  if (Exit.isSuccess(exit)) throw new Error("unreachable")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  assert.isDefined(failure, "a typed failure, not a defect or an interrupt")
  return failure as E
}

for (const backend of sharedBackends) {
  describe(`a run context used after Jobs.run returned, on ${backend.name}`, () => {
    it.effect("ctx.node from a daemon fiber after the run completed fails at once with RunNotActive (completed) and writes nothing", () =>
      Effect.gen(function*() {
        const { jobs, store } = yield* jobsOn(yield* backend.fresh("late node"))
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const runEnded = yield* Deferred.make<void>()
        const late = yield* Deferred.make<Exit.Exit<unknown, unknown>>()
        yield* jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            yield* Effect.forkDaemon(Deferred.await(runEnded).pipe(
              Effect.zipRight(Effect.exit(ctx.node({ node_id: "late", node_type: "llm", input: {} }, Effect.succeed({ x: 1 })))),
              Effect.flatMap((exit) => Deferred.succeed(late, exit))
            ))
            return { done: true }
          }))
        yield* Deferred.succeed(runEnded, undefined)
        const failure = failureOf(yield* Deferred.await(late))
        assert.instanceOf(failure, RunNotActive)
        assert.strictEqual((failure as RunNotActive).status, "completed")

        assert.strictEqual((yield* store.getJob(job.job_id)).state, "completed")
        const history = yield* jobs.history(job.job_id)
        assert.deepStrictEqual(history.runs.map((r) => r.nodes.map((n) => n.node_id)), [[]], "no node written into the ended run")
      }).pipe(Effect.scoped))

    it.effect("ctx.node with a context kept past a failed Jobs.run fails at once with RunNotActive (failed)", () =>
      Effect.gen(function*() {
        const { jobs } = yield* jobsOn(yield* backend.fresh("late node kept"))
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const ctx = yield* keptContext(jobs, job.job_id, Effect.fail("no"))
        const node = failureOf(yield* Effect.exit(ctx.node({ node_id: "late", node_type: "llm" }, Effect.succeed({ x: 1 }))))
        assert.instanceOf(node, RunNotActive)
        assert.strictEqual((node as RunNotActive).status, "failed")
      }).pipe(Effect.scoped))

    it.effect("ctx.securityViolation with a context kept past Jobs.run is recorded, poisons nothing, and says the run had ended completed", () =>
      Effect.gen(function*() {
        const { jobs, store } = yield* jobsOn(yield* backend.fresh("late violation"))
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const ctx = yield* keptContext(jobs, job.job_id, Effect.succeed({ done: true }))
        const violation = failureOf(yield* Effect.exit(ctx.securityViolation({ violation: "prompt_injection", detail: "late" })))
        assert.instanceOf(violation, SecurityViolation)
        assert.isFalse(violation.poisoned)
        assert.strictEqual(violation.run_ended, "completed")
        assert.include(violation.message, "the run had already ended completed")
        assert.notInclude(violation.message, "taken away")

        const ended = yield* store.getJob(job.job_id)
        assert.strictEqual(ended.state, "completed", "the job stays as its run left it")
        const recorded = (yield* store.listEvents({ job_id: job.job_id, types: ["security_violation"] })).items
        assert.strictEqual(recorded.length, 1, "an auditor still sees the report")
      }).pipe(Effect.scoped))
  })
}
