/**
 * Issue 15.1, the retry policy "overridable per job", on SQLite (a file) and
 * PostgreSQL under `TestClock`: a job submitted with its own backoff is
 * retried after its own waits, not its kind's; a job without one waits as its
 * kind says; the job's backoff is stored with it and reads back (waits in
 * milliseconds); a bad one is a `DecodeFailure` and nothing is written.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import type * as Jobs from "../../src/Jobs.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

/** The kind's policy: 3 attempts, 10 s then 20 s, no jitter. */
const retry = { kinds: { doc_summarize: { maxAttempts: 3, backoff: { initial: "10 seconds", factor: 2, max: "1 hour", jitter: 0 } } } } as const

const failing = () => Effect.fail("model timed out")

/** Claims `jobId` (it must be the one eligible job), fails its attempt, and returns how long the retry waits. */
const failAttempt = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.gen(function*() {
    const claim = yield* jobs.claimNext()
    assert.strictEqual(claim?.job.job_id, jobId)
    yield* Effect.either(jobs.run(jobId, failing))
    const job = yield* jobs.get(jobId)
    return { job, wait: DateTime.toEpochMillis(job.run_after) - DateTime.toEpochMillis(job.updated_at) }
  })

/** How many jobs and events the store holds. */
const counts = (store: JobStore["Type"]) =>
  Effect.all({
    jobs: Effect.map(store.listJobs({ limit: 1000 }), (page) => page.items.length),
    events: Effect.map(store.listEvents({ limit: 1000 }), (page) => page.items.length)
  })

for (const backend of sharedBackends) {
  describe(`issue 15.1 a job's own backoff on ${backend.name}`, () => {
    it.effect("issue 15.1 a job submitted with its own backoff is retried after its waits (3 s, then 9 s), not its kind's; one without waits as its kind says (10 s, then 20 s)", () =>
      Effect.gen(function*() {
        const { jobs, store } = yield* engineOn(yield* backend.fresh("job backoff"), { retry })
        yield* TestClock.setTime(2_000_000)
        const own = yield* jobs.submit(summarize({ backoff: { initial: "3 seconds", factor: 3, max: "1 minute", jitter: 0 } }))
        assert.deepStrictEqual(own.backoff, { initial: 3000, factor: 3, max: 60_000, jitter: 0 })
        assert.deepStrictEqual((yield* jobs.get(own.job_id)).backoff, own.backoff, "stored with the job")
        assert.strictEqual(own.max_attempts, 3, "the kind's maximum still applies")

        const first = yield* failAttempt(jobs, own.job_id)
        assert.deepInclude(first.job, { state: "queued", attempt: 2 })
        assert.strictEqual(first.wait, 3000)
        yield* TestClock.adjust(3000)
        const second = yield* failAttempt(jobs, own.job_id)
        assert.deepInclude(second.job, { state: "queued", attempt: 3 })
        assert.strictEqual(second.wait, 9000)
        const requeued = (yield* store.listEvents({ job_id: own.job_id, types: ["system"], limit: 100 })).items
          .filter((event) => event.body["from_state"] === "failed")
          .map((event) => event.body["run_after"])
        assert.deepStrictEqual(requeued, ["1970-01-01T00:33:23.000Z", "1970-01-01T00:33:32.000Z"], "the events carry the job's own times")
        yield* TestClock.adjust(9000)
        assert.deepInclude((yield* failAttempt(jobs, own.job_id)).job, { state: "failed", attempt: 3 })

        const plain = yield* jobs.submit(summarize())
        assert.isNull(plain.backoff, "none of its own: the kind's")
        assert.strictEqual((yield* failAttempt(jobs, plain.job_id)).wait, 10_000)
        yield* TestClock.adjust(10_000)
        assert.strictEqual((yield* failAttempt(jobs, plain.job_id)).wait, 20_000)
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.1 a job's own backoff and max_attempts retry it where its kind has no policy at all; a backoff's missing fields take the kind defaults' values", () =>
      Effect.gen(function*() {
        const { jobs } = yield* engineOn(yield* backend.fresh("job backoff no policy"), { retry })
        yield* TestClock.setTime(3_000_000)
        const job = yield* jobs.submit(summarize({ job_kind: "doc_ingest", max_attempts: 2, backoff: { initial: 1500, jitter: 0 } }))
        assert.deepStrictEqual(job.backoff, { initial: 1500, factor: 2, max: 600_000, jitter: 0 })
        const failed = yield* failAttempt(jobs, job.job_id)
        assert.deepInclude(failed.job, { state: "queued", attempt: 2 })
        assert.strictEqual(failed.wait, 1500)
      }).pipe(Effect.scoped), 60_000)

    it.effect("issue 15.1 a bad backoff is a DecodeFailure naming the field, and nothing is written: no job, no event", () =>
      Effect.gen(function*() {
        const { jobs, store } = yield* engineOn(yield* backend.fresh("job backoff bad"), { retry })
        const bad: ReadonlyArray<readonly [unknown, string]> = [
          [{ initial: "soon" }, "backoff.initial"],
          [{ initial: -1 }, "backoff.initial"],
          [{ initial: "-2 seconds" }, "backoff.initial"],
          [{ max: "400 days" }, "backoff.max"],
          [{ max: Infinity }, "backoff.max"],
          [{ factor: 0.5 }, "backoff.factor"],
          [{ factor: Number.NaN }, "backoff.factor"],
          [{ jitter: 2 }, "backoff.jitter"],
          [{ intial: "1 second" }, "backoff.intial"],
          [null, "backoff"],
          ["fast", "backoff"]
        ]
        for (const [backoff, path] of bad) {
          const failure = yield* Effect.flip(jobs.submitUntrusted({ ...summarize(), backoff }))
          assert.strictEqual(failure._tag, "DecodeFailure", JSON.stringify(backoff))
          if (failure._tag === "DecodeFailure") {
            assert.isTrue(failure.issues.some((issue) => issue.path.includes(path)), `${path} in ${JSON.stringify(failure.issues)}`)
          }
        }
        assert.deepStrictEqual(yield* counts(store), { jobs: 0, events: 0 })
      }).pipe(Effect.scoped), 60_000)
  })
}
