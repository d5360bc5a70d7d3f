/**
 * Found by the concurrency soak (deadlock detected, SQLSTATE 40P01): an
 * operator's `Jobs.cancel` racing the worker's own settle of the same job.
 * `Jobs.move` locks the job row (transition) and then the run row
 * (finishRun); `runJob.settle` locks the run row (finishRun) and then the job
 * row (updateJob, transition). Opposite orders: PostgreSQL aborts one of them
 * after deadlock_timeout with a StorageError. The store below only slows
 * those two writes down (after they ran, with their locks held), so the race
 * that the soak hit by chance happens every time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"

const codeOf = <A, E>(exit: Exit.Exit<A, E>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") return "defect"
  const error = failure.value as { readonly _tag?: string; readonly cause?: { readonly cause?: { readonly code?: unknown } } }
  const code = error.cause?.cause?.code
  return `${error._tag}${typeof code === "string" ? ` ${code}` : ""}`
}

describe("reliability: lock order on PostgreSQL", () => {
  it.live("R6 an operator's cancel racing the worker's settle of the same job ends in one of the two outcomes, never a deadlock (40P01)", () =>
    Effect.gen(function*() {
      const url = yield* freshPgDatabase("reliability lock order")
      const real = Context.get(yield* Layer.build(PgStore.layer({ url })), JobStore)
      // Each write below keeps its row locks 300 ms longer (the sleep is inside the caller's transaction).
      const slow: JobStore["Type"] = {
        ...real,
        finishRun: (...args) => Effect.tap(real.finishRun(...args), () => Effect.sleep("300 millis")),
        transition: (request) => Effect.tap(real.transition(request), () => request.to === "cancelled" ? Effect.sleep("300 millis") : Effect.void)
      }
      const context = yield* Layer.build(services(Layer.succeed(JobStore, slow)))
      const jobs = Context.get(context, Jobs)

      const job = yield* jobs.submit(summarize())
      yield* jobs.start(job.job_id)
      const finish = yield* Deferred.make<void>()
      const worker = yield* Effect.fork(Effect.exit(jobs.run(job.job_id, () => Deferred.await(finish), { heartbeatInterval: "10 seconds" })))
      yield* Effect.sleep("100 millis")
      // The program ends (settle: finishRun, then the job) while the operator cancels (the job, then finishRun).
      yield* Deferred.succeed(finish, undefined)
      const operator = yield* Effect.exit(Effect.zipRight(Effect.sleep("50 millis"), jobs.cancel(job.job_id)))
      const settled = yield* Fiber.join(worker)

      const outcomes = [codeOf(settled), codeOf(operator)]
      assert.notInclude(outcomes.join(" "), "40P01", `outcomes ${outcomes.join(", ")}: the two transactions deadlocked`)
      const final = (yield* real.getJob(job.job_id)).state
      assert.include(["completed", "cancelled"], final)
    }).pipe(Effect.scoped), 60_000)
})
