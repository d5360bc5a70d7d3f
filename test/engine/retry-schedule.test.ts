/**
 * Issue 15.1 and 15.2 on SQLite (a file) and PostgreSQL: retries with backoff
 * under `TestClock` (attempt on the job and in every lifecycle event — its claims' too, `failed → queued`
 * with the next eligible time, no more after the last attempt, `poisoned`
 * never retried, an operator's retry is a new attempt), scheduled jobs not
 * claimed before their time, and priority order.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

const retry = { kinds: { doc_summarize: { maxAttempts: 3, backoff: { initial: "10 seconds", factor: 2, max: "1 hour", jitter: 0 } } } } as const

/** The job's lifecycle events, oldest first, as [from, to, attempt, run_after]. */
const moves = (store: JobStore["Type"], jobId: JobId) =>
  Effect.map(store.listEvents({ job_id: jobId, types: ["system"], limit: 1000 }), (page) =>
    page.items.map((event: EventRecord) => [event.body["from_state"], event.body["to_state"], event.body["attempt"], event.body["run_after"]]))

const failing = () => Effect.fail("model timed out")

for (const backend of sharedBackends) {
  describe(`issue 15.1/15.2 retries, schedule and priority on ${backend.name}`, () => {
    it.effect("issue 15.1 a failed attempt is queued again after its backoff (10 s, then 20 s); the third failure stays failed; attempts on the job and in both events", () =>
      Effect.gen(function*() {
        const { jobs, store } = yield* engineOn(yield* backend.fresh("retry backoff"), { retry })
        yield* TestClock.setTime(1_000_000)
        const job = yield* jobs.submit(summarize())
        assert.deepInclude(job, { attempt: 1, max_attempts: 3 })

        const first = yield* jobs.claimNext()
        yield* Effect.either(jobs.run(first!.job.job_id, failing))
        const second = yield* jobs.get(job.job_id)
        assert.deepInclude(second, { state: "queued", attempt: 2, status_reason: "retry: attempt 2 of 3" })
        assert.strictEqual(DateTime.toEpochMillis(second.run_after), 1_010_000)
        assert.include(second.error_message ?? "", "model timed out", "the last failure stays readable")

        assert.isNull(yield* jobs.claimNext(), "not before its backoff")
        yield* TestClock.adjust(9_999)
        assert.isNull(yield* jobs.claimNext(), "1 ms early")
        yield* TestClock.adjust(1)
        const again = yield* jobs.claimNext()
        assert.strictEqual(again?.job.job_id, job.job_id)
        assert.notStrictEqual(again?.run.id, first?.run.id, "a new workflow run (R6c)")
        yield* Effect.either(jobs.run(job.job_id, failing))
        assert.strictEqual(DateTime.toEpochMillis((yield* jobs.get(job.job_id)).run_after), 1_010_000 + 20_000)

        yield* TestClock.adjust("20 seconds")
        yield* jobs.claimNext()
        yield* Effect.either(jobs.run(job.job_id, failing))
        assert.deepInclude(yield* jobs.get(job.job_id), { state: "failed", attempt: 3 })
        yield* TestClock.adjust("1 day")
        assert.isNull(yield* jobs.claimNext(), "no attempts left")

        assert.deepStrictEqual(yield* moves(store, job.job_id), [
          [null, "queued", 1, undefined],
          ["queued", "running", 1, undefined],
          ["running", "failed", 1, undefined],
          ["failed", "queued", 2, "1970-01-01T00:16:50.000Z"],
          ["queued", "running", 2, undefined],
          ["running", "failed", 2, undefined],
          ["failed", "queued", 3, "1970-01-01T00:17:10.000Z"],
          ["queued", "running", 3, undefined],
          ["running", "failed", 3, undefined]
        ])
        assert.strictEqual((yield* store.listRuns(job.job_id)).length, 3)
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.1 a job's own max_attempts overrides its kind's; a kind with no policy is never retried; an operator's retry is a new attempt", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("retry override"), { retry })
        const once = yield* jobs.submit(summarize({ max_attempts: 1 }))
        const other = yield* jobs.submit(summarize({ job_kind: "doc_ingest" }))
        assert.strictEqual(other.max_attempts, 1)
        for (const id of [once.job_id, other.job_id]) {
          yield* jobs.start(id)
          yield* Effect.either(jobs.run(id, failing))
          assert.deepInclude(yield* jobs.get(id), { state: "failed", attempt: 1 })
        }
        const retried = yield* jobs.retry(once.job_id, { actor: "human", reason: "try again" })
        assert.deepInclude(retried, { state: "queued", attempt: 2 })
        assert.deepStrictEqual(retried.run_after, retried.updated_at, "eligible at once")
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.1 R6b a poisoned job is never retried, whatever attempts it has left", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("retry poisoned"), { retry })
        const job = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        const result = yield* Effect.either(jobs.run(job.job_id, (ctx) => ctx.securityViolation({ violation: "prompt_injection" })))
        assert.strictEqual(result._tag === "Left" ? (result.left as { _tag: string })._tag : "", "SecurityViolation")
        yield* TestClock.adjust("1 day")
        assert.isNull(yield* jobs.claimNext())
        assert.deepInclude(yield* jobs.get(job.job_id), { state: "poisoned", attempt: 1 })
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.2 a job scheduled for later is not claimed before its time, then is; a time already past means at once", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("scheduled"))
        yield* TestClock.setTime(5_000_000)
        const later = yield* jobs.submit(summarize({ run_after: DateTime.unsafeMake(5_000_000 + 3_600_000) }))
        assert.isNull(yield* jobs.claimNext())
        yield* TestClock.adjust(3_599_999)
        assert.isNull(yield* jobs.claimNext(), "1 ms before its time")
        const past = yield* jobs.submit(summarize({ run_after: "1970-01-01T00:00:01Z" }))
        assert.deepStrictEqual(past.run_after, past.created_at, "a past time is now")
        assert.strictEqual((yield* jobs.claimNext())?.job.job_id, past.job_id)
        yield* TestClock.adjust(1)
        assert.strictEqual((yield* jobs.claimNext())?.job.job_id, later.job_id)
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.2 claimNext takes the highest priority first, then the oldest; bad priorities are refused and store nothing", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("priority"))
        const submitted: Array<readonly [JobId, number]> = []
        for (const priority of [0, 5, -3, 1, 5, 0]) {
          yield* TestClock.adjust(1)
          submitted.push([(yield* jobs.submit(summarize({ priority }))).job_id, priority])
        }
        const expected = [...submitted].sort((a, b) => b[1] - a[1]).map(([id]) => id)
        const claimed: Array<JobId> = []
        for (let i = 0; i < submitted.length; i++) claimed.push((yield* jobs.claimNext())!.job.job_id)
        assert.deepStrictEqual(claimed, expected)
        for (const priority of [32768, 1.5, -40000]) {
          const refused = yield* Effect.flip(jobs.submit(summarize({ priority })))
          assert.strictEqual(refused._tag, "DecodeFailure")
        }
        assert.strictEqual((yield* jobs.list({ limit: 100 })).items.length, submitted.length)
      }).pipe(Effect.scoped), 60_000)
  })
}
