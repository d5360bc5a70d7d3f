/**
 * Issue 15.1 and R6, found by a new-user probe running worker processes on
 * PostgreSQL; on SQLite (a file) and PostgreSQL:
 * - every lifecycle event carries the attempt the job is on at that change:
 *   the `→ running` events (a claim, from the one-statement claim's
 *   templates or the general path; start, resume, rework) had none, so a
 *   trail read `failed (1) → queued (2) → running` with no attempt on the run;
 * - a failed attempt that is retried writes its failure and its requeue at
 *   ONE instant, the failure's, the requeue listed after it, and its
 *   `run_after` is that instant plus the backoff chosen — each read the
 *   clock, so under load the requeue came up to a second later and a retry
 *   could be due before its own event (forced with a clock that moves on every read);
 * - a named operation refused by the job's state says which operation and
 *   the states it accepts (`operation`, `accepts`), as resume's did: `retry`
 *   of a queued job said "only a job that is failed can go to queued",
 *   while a release moves a running job there.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type * as Capabilities from "../../src/Capabilities.js"
import { IllegalTransition } from "../../src/domain/Errors.js"
import type { EventRecord } from "../../src/domain/EventRecord.js"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import type { Backend } from "../support/backend.js"
import { steppingClock } from "../support/steppingClock.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { servicesUnder, switchablePolicy } from "./services.js"
import { layerDefault } from "../../src/Capabilities.js"

/** Three attempts a second apart, then two: no jitter, so the wait is the backoff exactly. */
const retry = { kinds: { doc_summarize: { maxAttempts: 3, backoff: { initial: "1 second", factor: 2, max: "1 hour", jitter: 0 } } } } as const

const failing = () => Effect.fail("model timed out")

/** The job's lifecycle records in the order its history lists them. */
const lifecycle = (store: JobStore["Type"], jobId: JobId) =>
  Effect.map(store.listEvents({ job_id: jobId, types: ["system"], limit: 1000 }), (page) => page.items)

/** Each lifecycle record as `from→to #attempt`. */
const moves = (store: JobStore["Type"], jobId: JobId) =>
  Effect.map(lifecycle(store, jobId), (events) =>
    events.map((event: EventRecord) => `${String(event.body["from_state"])}→${String(event.body["to_state"])} #${String(event.body["attempt"])}`))

/** A job's first attempt failed, the job queued for its second and running it. */
const FAILED_THEN_RUN_AGAIN = ["null→queued #1", "queued→running #1", "running→failed #1", "failed→queued #2", "queued→running #2"]

/** The policies a claim meets: remembered (the one-statement claim's templates) and asked every time (the general claim). */
const policies: ReadonlyArray<readonly [string, () => Layer.Layer<Capabilities.Capabilities>]> = [
  ["the one-statement claim", () => layerDefault],
  ["the general claim", () => switchablePolicy({ on: false })]
]

for (const backend of [sqliteFile, postgres("lifecycle attempts")] as ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>, policy: () => Layer.Layer<Capabilities.Capabilities> = () => layerDefault) =>
    Effect.provide(
      effect,
      servicesUnder(policy(), backend.makeStore(), Recovery.layerNoStartupRecovery, WakeUp.layerPollOnly, { retry }) as Layer.Layer<Exclude<R, never>, unknown>
    )

  describe(`issue 15.1 R6 lifecycle records and their attempts on ${backend.name}`, () => {
    for (const [path, policy] of policies) {
      it.effect(`issue 15.1 every claim's queued→running carries the attempt it runs (${path}), as the failures and retries around it do`, () =>
        provide(
          Effect.gen(function*() {
            const jobs = yield* Jobs.Jobs
            const store = yield* JobStore
            yield* TestClock.setTime(1_000_000)
            const job = yield* jobs.submit(summarize())
            for (const wait of [0, 1_000, 2_000]) {
              yield* TestClock.adjust(wait)
              const claim = yield* jobs.claimNext()
              assert.strictEqual(claim?.job.job_id, job.job_id, `claimed after ${wait} ms`)
              yield* Effect.either(jobs.run(job.job_id, failing))
            }
            assert.deepStrictEqual(yield* moves(store, job.job_id), [
              ...FAILED_THEN_RUN_AGAIN,
              "running→failed #2",
              "failed→queued #3",
              "queued→running #3",
              "running→failed #3"
            ])
          }),
          policy
        ))
    }

    it.effect("issue 15.1 R6 start, resume, rework and the moves between them carry the attempt the job is on (2, after a retry by hand)", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(1_000_000)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* jobs.fail(job.job_id, "by hand")
        yield* jobs.retry(job.job_id)
        yield* jobs.start(job.job_id)
        yield* TestClock.adjust(60_000)
        assert.strictEqual((yield* Recovery.recoverStalledRuns({})).recovered.length, 1)
        yield* jobs.resume(job.job_id)
        yield* jobs.awaitValidation(job.job_id)
        yield* jobs.awaitUser(job.job_id)
        yield* jobs.rework(job.job_id)
        yield* jobs.pin(job.job_id)
        yield* jobs.cancel(job.job_id)
        assert.deepStrictEqual(yield* moves(store, job.job_id), [
          ...FAILED_THEN_RUN_AGAIN,
          "stalled→running #2",
          "running→awaiting_validation #2",
          "awaiting_validation→awaiting_user #2",
          "awaiting_user→running #2",
          "running→running #2",
          "running→cancelled #2"
        ])
      })))

    it.effect("issue 15.1 a retried failure and its requeue share the failure's instant, the requeue listed after it, run_after = that instant + the backoff, under a clock that moves on every read", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const job = yield* jobs.submit(summarize())
        for (const [attempt, backoff] of [[1, 1_000], [2, 2_000]] as const) {
          const queued = yield* jobs.get(job.job_id)
          // The stepping clock is far ahead of the test clock: the job is due.
          yield* Effect.withClock(Effect.flatMap(jobs.claimNext(), () => Effect.either(jobs.run(job.job_id, failing))), steppingClock(`203${attempt}-01-01T00:00:00.000Z`))
          const events = (yield* lifecycle(store, job.job_id)).slice(-2)
          const [failed, requeued] = events
          assert.deepStrictEqual(events.map((event) => [event.body["from_state"], event.body["to_state"], event.body["attempt"]]), [
            ["running", "failed", attempt],
            ["failed", "queued", attempt + 1]
          ], `attempt ${attempt}: the failure, then its requeue`)
          assert.strictEqual(DateTime.formatIso(requeued!.timestamp), DateTime.formatIso(failed!.timestamp), `attempt ${attempt}: one instant`)
          assert.strictEqual(requeued!.body["timestamp"], failed!.body["timestamp"], `attempt ${attempt}: in the stored bodies too`)
          assert.isTrue(failed!.event_id < requeued!.event_id, `attempt ${attempt}: the requeue sorts after the failure`)
          assert.strictEqual(Date.parse(String(requeued!.body["run_after"])) - failed!.timestamp.epochMillis, backoff, `attempt ${attempt}: run_after − failure`)
          const after = yield* jobs.get(job.job_id)
          assert.deepInclude(after, { state: "queued", attempt: attempt + 1 })
          assert.strictEqual(after.run_after.epochMillis - failed!.timestamp.epochMillis, backoff, `attempt ${attempt}: the job's run_after`)
          assert.strictEqual(DateTime.formatIso(after.updated_at), DateTime.formatIso(failed!.timestamp), `attempt ${attempt}: the job's updated_at`)
          assert.isTrue(DateTime.greaterThan(after.updated_at, queued.updated_at))
        }
      })))

    it.effect("R6 a named operation refused by the job's state names itself and the states it accepts; the job and its history unchanged", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const queued = (yield* jobs.submit(summarize())).job_id
        const running = (yield* jobs.submit(summarize())).job_id
        yield* jobs.start(running)
        const cancelled = (yield* jobs.submit(summarize())).job_id
        yield* jobs.cancel(cancelled)
        const cases = [
          [jobs.retry, "retry", queued, "queued", "queued", ["failed"]],
          [jobs.retry, "retry", running, "running", "queued", ["failed"]],
          [jobs.cancel, "cancel", cancelled, "cancelled", "cancelled", ["queued", "running", "stalled", "awaiting_validation", "awaiting_user"]],
          [(jobId: JobId) => jobs.fail(jobId, "by hand"), "fail", cancelled, "cancelled", "failed", ["queued", "running", "stalled", "awaiting_validation", "awaiting_user"]],
          [jobs.complete, "complete", queued, "queued", "completed", ["running", "awaiting_validation", "awaiting_user"]],
          [jobs.awaitUser, "awaitUser", running, "running", "awaiting_user", ["awaiting_validation"]],
          [jobs.poison, "poison", queued, "queued", "poisoned", ["running", "awaiting_validation", "failed"]]
        ] as const
        for (const [operation, name, jobId, from, to, accepts] of cases) {
          const before = yield* moves(store, jobId)
          const error = yield* Effect.flip(operation(jobId))
          assert.instanceOf(error, IllegalTransition, `${name} on a ${from} job: ${String(error)}`)
          const refused = error as IllegalTransition
          assert.deepStrictEqual([refused.job_id, refused.from, refused.to, refused.operation], [jobId, from, to, name], `${name}: the refusal`)
          assert.deepStrictEqual(refused.accepts, accepts, `${name}: the states it accepts`)
          assert.strictEqual(refused.message, `Job ${jobId} cannot go from ${from} to ${to} (${name} moves only a job that is ${either(accepts)} to ${to})`)
          assert.strictEqual((yield* jobs.get(jobId)).state, from, `${name} left the job ${from}`)
          assert.deepStrictEqual(yield* moves(store, jobId), before, `${name} wrote no record`)
        }
      })))
  })
}

/** "a", "a or b", "a, b or c". */
const either = (states: ReadonlyArray<string>): string =>
  states.length < 2 ? states.join("") : `${states.slice(0, -1).join(", ")} or ${states[states.length - 1]}`
