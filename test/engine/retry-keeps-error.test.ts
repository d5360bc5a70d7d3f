/**
 * README "The job lifecycle": a job's `error_message` is a failure's error,
 * kept until a later failure replaces it. A job whose attempt 1 fails and
 * whose retry succeeds keeps attempt 1's error; the successful run's own
 * `error_message` is null. Through a run's one-write settle
 * (`JobStore.settleRun`) and through the general path (a store without it:
 * the job locked, `transition` and `finishRun`), to each success state, on
 * SQLite (a file) and PostgreSQL. A later failure still replaces it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { SuccessState } from "../../src/internal/jobs/runOptions.js"
import type { JobStore } from "../../src/store/JobStore.js"
import { summarize } from "../jobs/jobs.suite.js"
import { sharedBackends } from "../jobs/shared-database.js"
import { engineOn } from "./engine.js"

const retry = { kinds: { doc_summarize: { maxAttempts: 3, backoff: { initial: 0, factor: 1, max: 0, jitter: 0 } } } } as const

/** The store without its one-write settle: a run's end takes the general path (endRun.ts). */
const withoutSettleRun = (store: JobStore["Type"]): JobStore["Type"] => {
  const { settleRun: _settleRun, ...rest } = store
  return rest
}

const paths = [
  { name: "its one-write settle (settleRun)", wrapStore: undefined },
  { name: "the general path (no settleRun)", wrapStore: withoutSettleRun }
] as const

const successes: ReadonlyArray<SuccessState> = ["completed", "completed_with_issues", "awaiting_validation"]

for (const backend of sharedBackends) {
  describe(`README a success keeps the job's error_message from an earlier failure, on ${backend.name}`, () => {
    for (const path of paths) {
      for (const onSuccess of successes) {
        it.effect(`README job lifecycle: a retry that ends ${onSuccess} keeps attempt 1's error_message on the job, its run's is null, through ${path.name}`, () =>
          Effect.gen(function*() {
            const { jobs, store } = yield* engineOn(
              yield* backend.fresh("retry keeps error"),
              path.wrapStore === undefined ? { retry } : { retry, wrapStore: path.wrapStore }
            )
            const job = yield* jobs.submit(summarize())
            yield* jobs.claimNext()
            yield* Effect.either(jobs.run(job.job_id, () => Effect.fail("upstream model timed out")))
            const between = yield* jobs.get(job.job_id)
            assert.deepInclude(between, { state: "queued", attempt: 2 })
            assert.include(between.error_message ?? "", "upstream model timed out")

            const second = yield* jobs.claimNext()
            assert.strictEqual(second?.job.job_id, job.job_id)
            yield* jobs.run(job.job_id, () => Effect.succeed({ ok: true }), { onSuccess })
            const stored = yield* jobs.get(job.job_id)
            assert.strictEqual(stored.state, onSuccess)
            assert.strictEqual(stored.error_message, between.error_message, "the stored job keeps it")
            const run = yield* store.getRun(second!.run.id)
            assert.strictEqual(run.status, onSuccess)
            assert.isNull(run.error_message, "the successful run has no error of its own")
          }).pipe(Effect.scoped), 60_000)
      }

      it.effect(`README job lifecycle: a later failure replaces the job's error_message, through ${path.name}`, () =>
        Effect.gen(function*() {
          const { jobs } = yield* engineOn(
            yield* backend.fresh("failure replaces error"),
            path.wrapStore === undefined ? { retry } : { retry, wrapStore: path.wrapStore }
          )
          const job = yield* jobs.submit(summarize())
          yield* jobs.claimNext()
          yield* Effect.either(jobs.run(job.job_id, () => Effect.fail("first failure")))
          yield* jobs.claimNext()
          yield* Effect.either(jobs.run(job.job_id, () => Effect.fail("second failure")))
          const after = yield* jobs.get(job.job_id)
          assert.deepInclude(after, { state: "queued", attempt: 3 })
          assert.include(after.error_message ?? "", "second failure")
          assert.notInclude(after.error_message ?? "", "first failure")
        }).pipe(Effect.scoped), 60_000)
    }

    it.effect("README job lifecycle: an operator's complete of a running job keeps its earlier failure's error_message", () =>
      Effect.gen(function*() {
        const { jobs, store } = yield* engineOn(yield* backend.fresh("operator complete keeps error"), { retry })
        const job = yield* jobs.submit(summarize())
        yield* jobs.claimNext()
        yield* Effect.either(jobs.run(job.job_id, () => Effect.fail("upstream model timed out")))
        const between = yield* jobs.get(job.job_id)
        const second = yield* jobs.claimNext()
        const completed = yield* jobs.complete(job.job_id)
        assert.strictEqual(completed.state, "completed")
        assert.strictEqual(completed.error_message, between.error_message)
        assert.isNull((yield* store.getRun(second!.run.id)).error_message)
      }).pipe(Effect.scoped), 60_000)
  })
}
