/**
 * issue 15.6: `await`'s timeout names the state the job is in when the time
 * runs out — even when a read was still in flight at that moment (on
 * PostgreSQL a read is real I/O while the TestClock moves) — and counts from
 * the call, the first read included. The interleavings are forced: a read
 * blocks until the time has run out.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type { AiJob } from "../../src/domain/AiJob.js"
import type { JobId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import { makeAwait } from "../../src/internal/engine/awaitJob.js"

const jobId = "01a00000-0000-7000-8000-0000000000aa" as JobId
const job = (state: JobState) => ({ job_id: jobId, state }) as unknown as AiJob

describe("issue 15.6 await's timeout", () => {
  it.effect("issue 15.6 AwaitTimeout names the state at the timeout, not the one before a read still in flight", () =>
    Effect.gen(function*() {
      const blocked = yield* Deferred.make<void>()
      let reads = 0
      const getJob = (_: JobId) =>
        Effect.suspend(() => {
          reads++
          if (reads === 1) return Effect.succeed(job("queued"))
          // The poll's read: still in flight when the time runs out.
          if (reads === 2) return Effect.as(Deferred.await(blocked), job("queued"))
          return Effect.succeed(job("running"))
        })
      const awaiting = yield* Effect.fork(Effect.flip(makeAwait(getJob, undefined)(jobId, { timeout: "5 seconds", pollInterval: "1 second" })))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(reads, 2, "the poll's read has started and blocks")
      yield* TestClock.adjust("4 seconds")
      const error = yield* Fiber.join(awaiting)
      assert.deepInclude(error, { _tag: "AwaitTimeout", job_id: jobId, state: "running" })
    }))

  it.effect("issue 15.6 a job that reaches the wanted state as the time runs out is returned, not reported late", () =>
    Effect.gen(function*() {
      let reads = 0
      const getJob = (_: JobId) => Effect.sync(() => job(++reads < 2 ? "running" : "completed"))
      // The poll never fires before the timeout: the only read after the first is the timeout's own.
      const awaiting = yield* Effect.fork(makeAwait(getJob, undefined)(jobId, { timeout: "5 seconds", pollInterval: "1 hour" }))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Fiber.join(awaiting)).state, "completed")
    }))

  it.effect("issue 15.6 the timeout counts from the call: a first read still in flight when the time runs out ends in AwaitTimeout", () =>
    Effect.gen(function*() {
      // Found by the five-run proof on PostgreSQL: the first read was slow, the
      // test's clock moved past the timeout meanwhile, and the timer — started
      // only after that read — then waited 5 s more of a clock nobody moved.
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      let reads = 0
      const getJob = (_: JobId) =>
        Effect.suspend(() => {
          reads++
          return reads === 1
            ? Effect.as(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(release)), job("queued"))
            : Effect.succeed(job("queued"))
        })
      const awaiting = yield* Effect.fork(Effect.flip(makeAwait(getJob, undefined)(jobId, { timeout: "5 seconds", pollInterval: "1 hour" })))
      yield* Deferred.await(started)
      yield* TestClock.adjust("5 seconds")
      yield* Deferred.succeed(release, undefined)
      // No more clock: the time has run out, so the await ends on its own.
      let ended = yield* Fiber.poll(awaiting)
      for (let turn = 0; turn < 100 && Option.isNone(ended); turn++) {
        yield* Effect.yieldNow()
        ended = yield* Fiber.poll(awaiting)
      }
      assert.isTrue(Option.isSome(ended), "await still waits after its 5 s ran out")
      assert.deepInclude(yield* Fiber.join(awaiting), { _tag: "AwaitTimeout", job_id: jobId, state: "queued" })
    }))
})
