/**
 * R8 graceful shutdown on PostgreSQL (regression probe): a pool's drain ends
 * while job J's run's end waits on a lock another session holds, and another
 * caller's submit — whose inputs name J (`{"follow_up_of": J}`), as a
 * `POST /jobs` would — waits on the same lock. The drain's cut cancelled
 * every statement in flight whose parameters held J's id anywhere, so the
 * submit failed with "canceling statement due to user request: the worker
 * pool's drain …". Now the cut names the run's end by its own record: J's
 * end is cut (J stays running under its run), and the submit commits once
 * the lock goes.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import { Jobs } from "../../src/Jobs.js"
import { JobStore } from "../../src/store/JobStore.js"
import { capturingLog } from "../support/capturedLog.js"
import { holdTable } from "../support/tableHold.js"
import { summarize } from "./jobs.suite.js"
import { poolReturningOnCue } from "./cutEnd.js"
import { endsBeforeRelease } from "./lockOrder.js"
import { services } from "./services.js"
import { postgresShared, realSleep } from "./shared-database.js"

/** Only so that code that waits for the lock fails instead of hanging: the assertion is the order of events. */
const HANG_BOUND_MS = 20_000

describe("a pool's drain cut on PostgreSQL, with another caller's statement naming the job waiting on the same lock", () => {
  it.live("R8 the cut cancels the run's end only: a submit whose inputs name the job is not cancelled and commits once the lock goes, and the job stays running under its run", () => {
    const log = capturingLog(["DEBUG"])
    return Effect.gen(function*() {
      const database = yield* postgresShared.fresh("shutdown cut names its write")
      const store = yield* database.store()
      const jobs = Context.get(yield* Layer.build(services(Layer.succeed(JobStore, store))), Jobs)
      const job = yield* jobs.submit(summarize())
      const { started, letReturn, cut, pool } = yield* poolReturningOnCue(jobs)
      const running = yield* Deferred.await(started)
      const hold = yield* holdTable(database.url, "ai_jobs")
      const closing = yield* Effect.fork(Scope.close(pool, Exit.void))
      // The program returns once the shutdown has begun (the pool says so), and its end meets the lock.
      while (!log.lines.some((line) => line.startsWith("worker pool: shutting down"))) yield* realSleep(10)
      yield* Deferred.succeed(letReturn, undefined)
      yield* hold.blocked
      // Another caller's submit naming the job, waiting on the same lock when the drain ends.
      const inputs = { follow_up_of: job.job_id }
      const submitting = yield* Effect.fork(jobs.submit(summarize({ job_inputs: inputs })))
      yield* hold.blockedBy(2)
      yield* Deferred.succeed(cut, undefined)
      yield* endsBeforeRelease(closing, hold.release, HANG_BOUND_MS)
      const submitted = yield* Fiber.join(submitting)
      assert.deepStrictEqual((yield* store.getJob(submitted.job_id)).job_inputs, inputs, "the submit naming the job committed")
      const after = yield* store.getJob(job.job_id)
      assert.strictEqual(after.state, "running", "nothing of the run's end was written")
      assert.strictEqual(after.workflow_run_id, running.workflow_run_id)
      assert.strictEqual((yield* store.getRun(running.workflow_run_id!)).status, "running", "the run is recovery's")
    }).pipe(Effect.scoped, log.provide, Logger.withMinimumLogLevel(LogLevel.Debug))
  }, 60_000)
})
