/**
 * R6, the Flight Recorder's order under clock skew between hosts: a move the
 * Jobs layer makes on a clock behind the job's last change (a cancel, a
 * retry, a release, a start, a pin or unpin, a security violation, a
 * capability refusal) was lifted to that change's instant and tied with its
 * record there; its records' ids, minted from this clock behind, sorted
 * first, and the job's history listed the move before the change it follows.
 * Now, only when lifted, the job's latest record is read, and the move goes
 * 1 ms after it when that record would sort at or after the move's own
 * (auditEvents.ts `afterLastChange`), and the store writes the job's
 * `updated_at` at that instant (JobStore.ts `Change`). Both stores.
 *
 * The skew is forced: the pin, another host's change, is dated 100 s by the
 * TestClock and its record's id minted a day ahead of this process's real
 * clock, as a host ahead would mint it; the move reads 50 s.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { auditWith, JobStore } from "../../src/store/JobStore.js"
import type { Backend } from "../support/backend.js"
import { postgres, sqliteFile } from "../support/stores.js"
import { at, idMintedAt, jobEvent, millis } from "../store/fixtures.js"
import { summarize } from "./jobs.suite.js"
import { services, servicesUnder, switchablePolicy } from "./services.js"

const PIN_MS = 100_000
const MOVER_MS = 50_000

/** The job pinned (or unpinned) at 100 s by a host ahead; the clock then reads 50 s. Its pin's record id. */
const pinnedByAHostAhead = (jobId: JobId, pinned = true) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const job = yield* store.getJob(jobId)
    yield* TestClock.setTime(PIN_MS)
    const pinId = idMintedAt(Date.now() + 86_400_000)
    yield* store.setPinned(jobId, pinned, { events: auditWith([jobEvent(job, { event_id: pinId, timestamp: at(PIN_MS) })]) })
    yield* TestClock.setTime(MOVER_MS)
    return pinId
  })

/** The move's records all come after the pin, the first 1 ms after it; the job's updated_at with them. */
const assertAfterPin = (jobId: JobId, pinId: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const history = (yield* store.listEvents({ job_id: jobId, order: "asc", limit: 50 })).items
    const pinAt = history.findIndex((event) => event.event_id === pinId)
    assert.isTrue(pinAt >= 0, "the pin is in the history")
    const after = history.slice(pinAt + 1)
    assert.isTrue(after.length > 0, "the move is listed after the pin")
    assert.deepStrictEqual(after.map((event) => millis(event.timestamp)), after.map(() => PIN_MS + 1), "the move's records, 1 ms after the pin")
    assert.deepStrictEqual(after.map((event) => event.body["timestamp"]), after.map(() => DateTime.formatIso(at(PIN_MS + 1))))
    assert.strictEqual(millis((yield* store.getJob(jobId)).updated_at), PIN_MS + 1, "the job's updated_at is the move's")
  })

/** The job's state as the store has it. */
const stateOf = (jobId: JobId) => Effect.map(Effect.flatMap(JobStore, (store) => store.getJob(jobId)), (job) => job.state)

for (const backend of [sqliteFile, postgres("moves after skewed change")] as ReadonlyArray<Backend>) {
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provide(effect, services(backend.makeStore(), Recovery.layerNoStartupRecovery) as Layer.Layer<Exclude<R, never>, unknown>)

  describe(`R6 a move on a clock behind the job's last change, made by a host ahead, on ${backend.name}`, () => {
    it.effect("R6 a cancel of a queued job, ids minted behind, is written 1 ms after the pin and listed after it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        const pinId = yield* pinnedByAHostAhead(job.job_id)
        yield* jobs.cancel(job.job_id, { reason: "not needed" })
        yield* assertAfterPin(job.job_id, pinId)
      })), 60_000)

    it.effect("R6 a cancel, unpin and start after a pin dated at the last storable instant are written there, tied — not refused", () =>
      provide(Effect.gen(function*() {
        // "1 ms after" a change at 9999-12-31T23:59:59.999Z is past what the stores hold: the move failed with a
        // DecodeFailure on its own `at` and the job could not be moved (found by a regression probe).
        const jobs = yield* Jobs.Jobs
        const store = yield* JobStore
        const last = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
        for (const move of ["cancel", "unpin", "start"] as const) {
          yield* TestClock.setTime(1_000)
          const job = yield* jobs.submit(summarize())
          yield* TestClock.setTime(last)
          yield* store.setPinned(job.job_id, true, { events: auditWith([jobEvent(job, { event_id: idMintedAt(Date.now() + 86_400_000), timestamp: at(last) })]) })
          yield* TestClock.setTime(MOVER_MS)
          if (move === "cancel") yield* jobs.cancel(job.job_id, { reason: "not needed" })
          else if (move === "unpin") yield* jobs.unpin(job.job_id)
          else yield* jobs.start(job.job_id)
          assert.strictEqual(millis((yield* store.getJob(job.job_id)).updated_at), last, `${move}: written at the last instant`)
        }
      })), 60_000)

    it.effect("R6 a start, ids minted behind, is written 1 ms after the pin and listed after it; its run begins there", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        const pinId = yield* pinnedByAHostAhead(job.job_id)
        const { run } = yield* jobs.start(job.job_id)
        yield* assertAfterPin(job.job_id, pinId)
        assert.strictEqual(millis(run.created_at), PIN_MS + 1, "the run begins with the start")
      })), 60_000)

    it.effect("R6 an unpin, ids minted behind, is written 1 ms after the pin and listed after it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        const pinId = yield* pinnedByAHostAhead(job.job_id)
        yield* jobs.unpin(job.job_id)
        yield* assertAfterPin(job.job_id, pinId)
      })), 60_000)

    it.effect("R6 a pin, ids minted behind, is written 1 ms after an unpin by a host ahead and listed after it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        yield* jobs.pin(job.job_id)
        const unpinId = yield* pinnedByAHostAhead(job.job_id, false)
        yield* jobs.pin(job.job_id)
        yield* assertAfterPin(job.job_id, unpinId)
      })), 60_000)

    it.effect("R6 a retry by hand of a failed job, ids minted behind, is written 1 ms after the pin and listed after it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* jobs.fail(job.job_id, "broke")
        const pinId = yield* pinnedByAHostAhead(job.job_id)
        yield* jobs.retry(job.job_id)
        assert.strictEqual(yield* stateOf(job.job_id), "queued")
        yield* assertAfterPin(job.job_id, pinId)
      })), 60_000)

    it.effect("R6 a resume of a stalled job, ids minted behind, is written 1 ms after the pin and listed after it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        yield* TestClock.setTime(10 * 60_000)
        yield* Recovery.recoverStalledRuns({})
        assert.strictEqual(yield* stateOf(job.job_id), "stalled")
        const store = yield* JobStore
        const stalled = yield* store.getJob(job.job_id)
        // The pin by the host ahead, after the stall: dated past both.
        yield* TestClock.setTime(PIN_MS + 10 * 60_000)
        const pinId = idMintedAt(Date.now() + 86_400_000)
        yield* store.setPinned(job.job_id, true, { events: auditWith([jobEvent(stalled, { event_id: pinId, timestamp: at(PIN_MS + 10 * 60_000) })]) })
        yield* TestClock.setTime(MOVER_MS)
        yield* jobs.resume(job.job_id)
        const history = (yield* store.listEvents({ job_id: job.job_id, order: "asc", limit: 50 })).items
        const after = history.slice(history.findIndex((event) => event.event_id === pinId) + 1)
        // The policy's re-check, then the move.
        assert.deepStrictEqual(after.map((event) => event.type), ["capability_action", "system"])
        assert.deepStrictEqual(after.map((event) => event.body["to_state"]), [undefined, "running"])
        assert.deepStrictEqual(after.map((event) => millis(event.timestamp)), after.map(() => PIN_MS + 10 * 60_000 + 1))
        assert.strictEqual(millis((yield* store.getJob(job.job_id)).updated_at), PIN_MS + 10 * 60_000 + 1)
      })), 60_000)

    it.effect("R6 a release of an interrupted run, ids minted behind, is written 1 ms after the pin and listed after it", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        const pinned = yield* Deferred.make<string>()
        // The caller gives up on the run once the host ahead has pinned its job: the run is released.
        const running = yield* Effect.fork(jobs.run(job.job_id, () =>
          Effect.zipRight(Effect.flatMap(pinnedByAHostAhead(job.job_id), (id) => Deferred.succeed(pinned, id)), Effect.never)))
        const pinId = yield* Deferred.await(pinned)
        yield* Fiber.interrupt(running)
        assert.strictEqual(yield* stateOf(job.job_id), "queued")
        yield* assertAfterPin(job.job_id, pinId)
      })), 60_000)

    it.effect("R6b a security violation, ids minted behind, is written 1 ms after the pin and listed after it: the violation and running→poisoned", () =>
      provide(Effect.gen(function*() {
        const jobs = yield* Jobs.Jobs
        yield* TestClock.setTime(1_000)
        const job = yield* jobs.submit(summarize())
        yield* jobs.start(job.job_id)
        let pinId = ""
        yield* Effect.exit(jobs.run(job.job_id, (ctx) =>
          Effect.gen(function*() {
            pinId = yield* pinnedByAHostAhead(job.job_id)
            return yield* ctx.securityViolation({ violation: "prompt_injection" })
          })))
        assert.strictEqual(yield* stateOf(job.job_id), "poisoned")
        yield* assertAfterPin(job.job_id, pinId)
      })), 60_000)

    it.effect("R15 a start the capability policy refuses, ids minted behind, is written 1 ms after the pin and listed after it: the deny and queued→failed", () => {
      const refusing = { on: false }
      return Effect.provide(
        Effect.gen(function*() {
          const jobs = yield* Jobs.Jobs
          yield* TestClock.setTime(1_000)
          const job = yield* jobs.submit(summarize())
          const pinId = yield* pinnedByAHostAhead(job.job_id)
          refusing.on = true
          yield* Effect.flip(jobs.start(job.job_id))
          assert.strictEqual(yield* stateOf(job.job_id), "failed")
          yield* assertAfterPin(job.job_id, pinId)
        }),
        servicesUnder(switchablePolicy(refusing), backend.makeStore(), Recovery.layerNoStartupRecovery) as Layer.Layer<Jobs.Jobs | JobStore, unknown>
      )
    }, 60_000)
  })
}
