/**
 * Issue 15.1: a failed attempt whose retry's backoff ends past the last
 * instant the stores hold (9999-12-31T23:59:59.999Z), on both stores, through
 * `Jobs.run` and through a worker pool. Found by an outside probe: the
 * settle failed (`run_after: Expected an instant between 1970 and 9999`),
 * the pool logged a warning and the job stayed `running`, its failure
 * unrecorded, until recovery stalled it. Now the failure is recorded and the
 * retry is queued at that last instant (RetryPolicy `eligibleAt`): the job
 * keeps the attempt it was given, and runs it then.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import * as WakeUp from "../../src/WakeUp.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize, untilDone } from "./jobs.suite.js"
import { services } from "./services.js"

/** An hour before the end of the stored range. */
const HOUR_BEFORE_END = Date.parse("9999-12-31T23:00:00.000Z")
const END = "9999-12-31T23:59:59.999Z"

/** Two attempts, an hour apart: the retry's backoff ends in year 10000. */
const request = () => summarize({ max_attempts: 2, backoff: { initial: "1 hour", factor: 1, max: "1 hour", jitter: 0 } })

/** The job's state, attempt, run_after and error, and its lifecycle moves with the run_after each carries. */
const outcomeOf = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), ({ events, job }) => ({
    state: job.state,
    attempt: job.attempt,
    run_after: DateTime.formatIso(job.run_after),
    error_message: job.error_message,
    moves: events.filter((event) => event.type === "system").map((event) =>
      `${String(event.body["from_state"])}→${String(event.body["to_state"])}${event.body["run_after"] === undefined ? "" : ` after ${String(event.body["run_after"])}`}`
    )
  }))

/**
 * Waits (real I/O, then `step` between looks) until the job is in `state` on
 * `attempt`, as many looks as the pool needs: 30 looks were a budget of real
 * time (~0.5 s) a loaded machine overran. No clock may pass the end: every
 * write then fails.
 */
const until = (jobs: Jobs.Jobs["Type"], jobId: JobId, state: string, attempt: number, step: Effect.Effect<void>) =>
  untilDone(Effect.map(jobs.get(jobId), (job) => job.state === state && job.attempt === attempt), step)

/** The TestClock a second on, or to the end if that is nearer: never past it. */
const upToTheEnd = Effect.flatMap(TestClock.currentTimeMillis, (now) => TestClock.adjust(Math.min(1_000, Date.parse(END) - now)))

/** The job once its first attempt failed: queued for its second at the end, the failure's error kept (`error_message` there: it names "boom"). */
const queuedAtTheEnd = {
  state: "queued",
  attempt: 2,
  run_after: END,
  error_message: true,
  moves: ["null→queued", "queued→running", "running→failed", `failed→queued after ${END}`]
}

for (const backend of [sqliteFile, postgres("retry end of time")] as ReadonlyArray<Backend>) {
  // In-process wake-ups: the retry's requeue tells the pool when it is due, and the pool looks then (its
  // polls, a minute apart from 23:00:00.000, never land on 23:59:59.999).
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore(), Recovery.layerNoStartupRecovery, WakeUp.layerInProcess) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`a retry past 9999-12-31 on ${backend.name}`, () => {
    it.effect("issue 15.1 Jobs.run: the failure is recorded and the retry queued at the last storable instant, then run and failed there", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(HOUR_BEFORE_END)
        const job = yield* jobs.submit(request())
        yield* jobs.start(job.job_id)
        yield* Effect.exit(jobs.run(job.job_id, () => Effect.fail("boom")))
        const first = yield* outcomeOf(jobs, job.job_id)
        assert.deepStrictEqual({ ...first, error_message: first.error_message?.includes("boom") === true }, queuedAtTheEnd)
        // Not eligible before the end; then the second attempt runs, and with none left the job stays failed.
        assert.isNull(yield* jobs.claimNext())
        yield* TestClock.setTime(Date.parse(END))
        const claim = yield* jobs.claimNext()
        assert.strictEqual(claim?.job.job_id, job.job_id)
        yield* Effect.exit(jobs.run(job.job_id, () => Effect.fail("boom again")))
        const last = yield* jobs.get(job.job_id)
        assert.deepStrictEqual([last.state, last.attempt, last.error_message?.includes("boom again")], ["failed", 2, true])
      })))

    it.effect("issue 15.1 a worker pool: the failure is recorded and the retry queued at the last storable instant, then run and failed there", () =>
      provide(Effect.scoped(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(HOUR_BEFORE_END)
        const job = yield* jobs.submit(request())
        yield* jobs.worker({ concurrency: 1, pollInterval: "1 minute", handlers: { doc_summarize: () => Effect.fail("boom") } })
        yield* until(jobs, job.job_id, "queued", 2, TestClock.adjust("1 second"))
        const first = yield* outcomeOf(jobs, job.job_id)
        assert.deepStrictEqual({ ...first, error_message: first.error_message?.includes("boom") === true }, queuedAtTheEnd)
        // The pool polls a second at a time up to the end itself (not past it), and claims the retry there.
        yield* TestClock.setTime(Date.parse(END) - 3_000)
        yield* until(jobs, job.job_id, "failed", 2, upToTheEnd)
        const last = yield* jobs.get(job.job_id)
        assert.deepStrictEqual([last.state, last.attempt], ["failed", 2])
      }))))
  })
}
