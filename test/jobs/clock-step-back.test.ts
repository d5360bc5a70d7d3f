/**
 * A clock stepped back while a job lives (NTP stepping, a VM resumed; on a
 * team server, another host's clock behind this one's), on both stores. A
 * job's changes never run backwards: its `updated_at` is never before the
 * change it follows, and its history (read by timestamp, then event id) is
 * in the order the changes were made. Found by an outside probe: a cancel
 * and a retry's record were written at the stepped-back reading, before the
 * submit and the failure they follow, `updated_at` before `created_at`, and
 * a Janitor on a correct clock pruned a job cancelled moments earlier.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import * as Janitor from "../../src/Janitor.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services } from "./services.js"

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const FIVE_MINUTES = 5 * 60_000

/** The job's lifecycle moves as its history reads them, and whether its times run forward. */
const lifecycleOf = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), ({ events, job }) => ({
    moves: events.filter((event) => event.type === "system").map((event) => `${String(event.body["from_state"])}→${String(event.body["to_state"])}`),
    forward: events.every((event, i) => i === 0 || DateTime.greaterThanOrEqualTo(event.timestamp, events[i - 1]!.timestamp)),
    updatedNotBeforeCreated: DateTime.greaterThanOrEqualTo(job.updated_at, job.created_at),
    lastRecordIsUpdatedAt: DateTime.Equivalence(events[events.length - 1]!.timestamp, job.updated_at)
  }))

for (const backend of [sqliteFile, postgres("clock step back")] as ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, options: Jobs.Options = {}) =>
    Effect.provide(effect, services(backend.makeStore(), Recovery.layerNoStartupRecovery, undefined, options) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`a clock stepped back on ${backend.name}`, () => {
    it.effect("R6 a cancel read 5 minutes back follows the submit it moves: updated_at not before created_at, the history in order; a Janitor on the right clock keeps the young job", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* TestClock.setTime(T0 - FIVE_MINUTES)
        const cancelled = yield* jobs.cancel(job.job_id, { reason: "no longer needed" })
        assert.strictEqual(cancelled.state, "cancelled")
        assert.deepStrictEqual(yield* lifecycleOf(jobs, job.job_id), {
          moves: ["null→queued", "queued→cancelled"],
          forward: true,
          updatedNotBeforeCreated: true,
          lastRecordIsUpdatedAt: true
        })
        yield* TestClock.setTime(T0 + 10_000)
        const report = yield* Janitor.prune({ olderThan: DateTime.unsafeMake(T0 + 10_000 - 2 * 60_000), keepNewest: 0 })
        assert.strictEqual(report.pruned, 0, "cancelled moments ago by the job's own order of changes")
      })))

    it.effect("R6 a failure whose program stepped the clock back 5 minutes: the retry's record follows the failure's in the same transaction, the job queued again", () =>
      provide(
        Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          yield* TestClock.setTime(T0)
          const job = yield* jobs.submit(summarize({ max_attempts: 3 }))
          yield* jobs.start(job.job_id)
          yield* Effect.exit(jobs.run(job.job_id, () => Effect.zipRight(TestClock.setTime(T0 - FIVE_MINUTES), Effect.fail("boom"))))
          const after = yield* jobs.get(job.job_id)
          assert.strictEqual(after.state, "queued")
          assert.deepStrictEqual(yield* lifecycleOf(jobs, job.job_id), {
            moves: ["null→queued", "queued→running", "running→failed", "failed→queued"],
            forward: true,
            updatedNotBeforeCreated: true,
            lastRecordIsUpdatedAt: true
          })
        }),
        { retry: { default: { maxAttempts: 3 } } }
      ))

    it.effect("R6 a retry by hand and a pin read 5 minutes back follow the failure they move on from", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* jobs.fail(job.job_id, "broken")
        yield* TestClock.setTime(T0 - FIVE_MINUTES)
        yield* jobs.retry(job.job_id)
        yield* jobs.pin(job.job_id)
        const history = yield* lifecycleOf(jobs, job.job_id)
        assert.deepStrictEqual(history.moves.slice(-2), ["failed→queued", "queued→queued"])
        assert.isTrue(history.forward, "in order")
        assert.isTrue(history.updatedNotBeforeCreated)
      })))
  })
}
