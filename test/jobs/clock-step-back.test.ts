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
import { JobStore } from "../../src/store/JobStore.js"
import type { JobId } from "../../src/domain/Ids.js"
import * as Janitor from "../../src/Janitor.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { summarize } from "./jobs.suite.js"
import { services, servicesUnder, switchablePolicy } from "./services.js"

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

/** An instant of the test as history shows it. */
const at = (ms: number) => DateTime.formatIso(DateTime.unsafeMake(ms))

/**
 * Every record of the job in the order its history reads them (type, the
 * move for a lifecycle record, and the instant), the job's `updated_at`, and
 * each run's created, updated and heartbeat instants.
 */
const timesOf = (jobs: Jobs.Jobs["Type"], jobId: JobId) =>
  Effect.map(jobs.history(jobId), ({ events, job, runs }) => ({
    events: events.map((event) =>
      `${event.type}${event.type === "system" ? ` ${String(event.body["from_state"])}→${String(event.body["to_state"])}` : ""} @ ${DateTime.formatIso(event.timestamp)}`
    ),
    updated_at: DateTime.formatIso(job.updated_at),
    runs: runs.map(({ run }) => [run.created_at, run.updated_at, run.last_heartbeat].map(DateTime.formatIso))
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

    it.effect("R6 a start read 5 minutes back is at the submit's instant: its records, the job's updated_at and the new run's times", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* TestClock.setTime(T0 - FIVE_MINUTES)
        yield* jobs.start(job.job_id)
        assert.deepStrictEqual(yield* timesOf(jobs, job.job_id), {
          events: [
            `capability_action @ ${at(T0)}`,
            `system null→queued @ ${at(T0)}`,
            `capability_action @ ${at(T0)}`,
            `system queued→running @ ${at(T0)}`
          ],
          updated_at: at(T0),
          // Its first heartbeat the reading as it is: liveness, never lifted.
          runs: [[at(T0), at(T0), at(T0 - FIVE_MINUTES)]]
        })
      })))

    it.effect("R6 R9 a resume read 5 minutes back is at the stall's instant: its records follow the stall, the new run begins there", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* TestClock.setTime(T0 + 60_000)
        const recovered = yield* Recovery.recoverStalledRuns({})
        assert.strictEqual(recovered.recovered.length, 1)
        yield* TestClock.setTime(T0 - FIVE_MINUTES)
        yield* jobs.resume(job.job_id, { actor: "human", reason: "again" })
        const times = yield* timesOf(jobs, job.job_id)
        assert.deepStrictEqual(times.events.slice(-2), [
          `capability_action @ ${at(T0 + 60_000)}`,
          `system stalled→running @ ${at(T0 + 60_000)}`
        ])
        assert.deepStrictEqual(times.events.slice(0, -2), [
          `capability_action @ ${at(T0)}`,
          `system null→queued @ ${at(T0)}`,
          `capability_action @ ${at(T0)}`,
          `system queued→running @ ${at(T0)}`,
          `workflow_recovery @ ${at(T0 + 60_000)}`
        ], "the stall before it")
        assert.strictEqual(times.updated_at, at(T0 + 60_000))
        assert.deepStrictEqual(times.runs[1], [at(T0 + 60_000), at(T0 + 60_000), at(T0 - FIVE_MINUTES)], "the new run, its heartbeat the reading")
      })))

    it.effect("R6 a rework read 5 minutes back is at the instant the job began awaiting the user", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* jobs.awaitValidation(job.job_id)
        yield* TestClock.setTime(T0 + 60_000)
        yield* jobs.awaitUser(job.job_id)
        yield* TestClock.setTime(T0 - FIVE_MINUTES)
        yield* jobs.rework(job.job_id)
        const times = yield* timesOf(jobs, job.job_id)
        assert.deepStrictEqual(times.events.slice(-3), [
          `system awaiting_validation→awaiting_user @ ${at(T0 + 60_000)}`,
          `capability_action @ ${at(T0 + 60_000)}`,
          `system awaiting_user→running @ ${at(T0 + 60_000)}`
        ])
        assert.strictEqual(times.updated_at, at(T0 + 60_000))
        assert.deepStrictEqual(times.runs[1], [at(T0 + 60_000), at(T0 + 60_000), at(T0 - FIVE_MINUTES)], "the new run, its heartbeat the reading")
      })))

    it.effect("R6 R15 a start the policy refuses, read 5 minutes back, is at the submit's instant: the deny record and queued→failed", () => {
      const refusing = { on: false }
      return Effect.provide(
        Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          yield* TestClock.setTime(T0)
          const job = yield* jobs.submit(summarize())
          refusing.on = true
          yield* TestClock.setTime(T0 - FIVE_MINUTES)
          const refused = yield* Effect.flip(jobs.start(job.job_id))
          assert.strictEqual(refused._tag, "UnknownProfile")
          const times = yield* timesOf(jobs, job.job_id)
          assert.deepStrictEqual(times.events.slice(2), [`capability_action @ ${at(T0)}`, `system queued→failed @ ${at(T0)}`])
          assert.strictEqual(times.updated_at, at(T0))
        }),
        servicesUnder(switchablePolicy(refusing), backend.makeStore()) as Layer.Layer<Jobs.Jobs | JobStore, unknown>
      )
    })

    it.effect("R6 R15 a claim under a policy asked every time, read 30 s before the job's pin (its last change), is at the pin's instant: its records as the job's updated_at", () =>
      Effect.provide(
        Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          yield* TestClock.setTime(T0)
          const job = yield* jobs.submit(summarize())
          yield* TestClock.setTime(T0 + 60_000)
          yield* jobs.pin(job.job_id)
          // Eligible since T0, and the clock stepped back to before the pin.
          yield* TestClock.setTime(T0 + 30_000)
          const claim = yield* jobs.claimNext()
          assert.strictEqual(claim?.job.job_id, job.job_id)
          assert.deepStrictEqual(yield* timesOf(jobs, job.job_id), {
            events: [
              `capability_action @ ${at(T0)}`,
              `system null→queued @ ${at(T0)}`,
              `system queued→queued @ ${at(T0 + 60_000)}`,
              `capability_action @ ${at(T0 + 60_000)}`,
              `system queued→running @ ${at(T0 + 60_000)}`
            ],
            updated_at: at(T0 + 60_000),
            runs: [[at(T0 + 60_000), at(T0 + 60_000), at(T0 + 30_000)]]
          })
        }),
        servicesUnder(switchablePolicy({ on: false }), backend.makeStore()) as Layer.Layer<Jobs.Jobs | JobStore, unknown>
      ))

    it.effect("R6 a cancel of a running job with a node running (the locked path that ends its run), read 5 minutes back, is at the start's instant", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        const { run } = yield* jobs.start(job.job_id)
        yield* store.startNode({ workflow_run_id: run.id, node_id: "long", node_type: "llm" })
        yield* TestClock.setTime(T0 - FIVE_MINUTES)
        yield* jobs.cancel(job.job_id, { reason: "stop" })
        const times = yield* timesOf(jobs, job.job_id)
        assert.deepStrictEqual(times.events.slice(-1), [`system running→cancelled @ ${at(T0)}`])
        assert.strictEqual(times.updated_at, at(T0))
      })))

    it.effect("R6b a security violation a program reports after stepping the clock back 5 minutes is at the start's instant: the violation and running→poisoned", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* Effect.exit(jobs.run(job.job_id, (ctx) =>
          Effect.zipRight(TestClock.setTime(T0 - FIVE_MINUTES), ctx.securityViolation({ violation: "prompt_injection" }))))
        const times = yield* timesOf(jobs, job.job_id)
        assert.deepStrictEqual(times.events.slice(-2), [`security_violation @ ${at(T0)}`, `system running→poisoned @ ${at(T0)}`])
        assert.strictEqual(times.updated_at, at(T0))
      })))

    it.effect("R6 R8 a start lifted past a clock 5 minutes behind, then a heartbeat on that clock: the beat is the reading, the run's updated_at never before its created_at", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* TestClock.setTime(T0 - FIVE_MINUTES)
        const { run } = yield* jobs.start(job.job_id)
        yield* TestClock.setTime(T0 - FIVE_MINUTES + 1000)
        const beaten = yield* store.heartbeat(run.id)
        const stored = yield* store.getRun(run.id)
        for (const read of [beaten, stored]) {
          assert.deepStrictEqual(
            [read.created_at, read.updated_at, read.last_heartbeat].map(DateTime.formatIso),
            [at(T0), at(T0), at(T0 - FIVE_MINUTES + 1000)]
          )
        }
      })))

    for (const begin of ["start", "claimNext", "claimNext under a policy asked every time"] as const) {
      it.effect(`R9 a run begun by ${begin} on a job last changed by a host a day ahead, its worker gone before its first beat, is stale 10 minutes later by this clock`, () =>
        Effect.provide(
          Effect.gen(function*() {
            const jobs = yield* Jobs.Jobs
            yield* TestClock.setTime(T0)
            const job = yield* jobs.submit(summarize())
            yield* TestClock.setTime(T0 + 86_400_000)
            yield* jobs.pin(job.job_id)
            yield* TestClock.setTime(T0 + 1000)
            const claim = begin === "start" ? yield* jobs.start(job.job_id) : yield* jobs.claimNext()
            assert.strictEqual(claim?.job.job_id, job.job_id)
            assert.strictEqual(DateTime.formatIso(claim!.run.last_heartbeat), at(T0 + 1000), "the first heartbeat is the reading")
            assert.strictEqual(DateTime.formatIso(claim!.run.created_at), at(T0 + 86_400_000), "the run begins after the pin")
            yield* TestClock.setTime(T0 + 10 * 60_000)
            const recovered = yield* Recovery.recoverStalledRuns({})
            assert.deepStrictEqual(recovered.recovered.map((stale) => stale.id), [claim!.run.id])
            assert.strictEqual((yield* jobs.get(job.job_id)).state, "stalled")
          }),
          (begin === "claimNext under a policy asked every time"
            ? servicesUnder(switchablePolicy({ on: false }), backend.makeStore(), Recovery.layerNoStartupRecovery)
            : services(backend.makeStore(), Recovery.layerNoStartupRecovery)) as Layer.Layer<Jobs.Jobs | JobStore, unknown>
        ))
    }

    it.effect("R6b a security violation reported on a clock stepped back after the operator pinned the running job is after the pin: the job as locked, not as claimed", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(T0)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* Effect.exit(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            yield* TestClock.setTime(T0 + 60_000)
            yield* jobs.pin(job.job_id)
            yield* TestClock.setTime(T0 + 30_000)
            return yield* ctx.securityViolation({ violation: "prompt_injection" })
          })))
        const times = yield* timesOf(jobs, job.job_id)
        assert.deepStrictEqual(times.events.slice(-3), [
          `system running→running @ ${at(T0 + 60_000)}`,
          `security_violation @ ${at(T0 + 60_000)}`,
          `system running→poisoned @ ${at(T0 + 60_000)}`
        ])
        assert.strictEqual(times.updated_at, at(T0 + 60_000))
      })))
  })
}
