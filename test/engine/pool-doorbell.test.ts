/**
 * Issue 16 (pickup) with issue 15.3: an idle worker pool's loops park on the
 * pool's doorbell (workBell.ts), which the WakeUp service rings in the
 * announcer's call. A ring resumes a parked loop directly, so the path from
 * an announcement to the loop's next claim is a handful of Effect
 * operations — where a three-way race over a subscription (the poll, the
 * pool closing, a fiber taking the next signal) had to settle and wait for
 * its losers first. With the rules the subscription's queue had: each
 * announcement wakes one loop, one made while every loop is busy wakes the
 * next loop that goes idle, a job eligible later wakes a loop at its time,
 * the poll still runs, and closing the pool wakes every parked loop.
 *
 * The pool here is `makeWorkerPool` itself, over the in-process WakeUp, with
 * a claim that records when it is called and hands out what the test queued:
 * the pool's waiting is what is under test, on Effect's `TestClock`. The
 * claim and run against real stores are test/engine/local-wake.test.ts and
 * workers.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import type { JobId } from "../../src/domain/Ids.js"
import { makeServiceClose } from "../../src/internal/jobs/serviceClose.js"
import { makeWorkerPool } from "../../src/internal/jobs/workerPool.js"
import { DEFAULT_THRESHOLD } from "../../src/Recovery.js"
import type { Claim } from "../../src/store/JobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { countingScheduler } from "../support/effectOperations.js"

const jobId = (n: number) => `0190a000-0000-7000-8000-${String(n).padStart(12, "0")}` as JobId
const queued = (n: number, run_after = 0) => ({ job_id: jobId(n), state: "queued" as const, job_kind: "doc_edit" as const, run_after })

/** A pool of `concurrency` loops polling every hour; `claims` records each claim call (its operation count), `handOut` queues a claim. */
const pool = (concurrency: number) =>
  Effect.gen(function*() {
    const wake = yield* WakeUp.WakeUp
    const counting = countingScheduler()
    const claims: Array<number> = []
    const waiting: Array<Claim> = []
    const claimNext = () =>
      Effect.sync(() => {
        claims.push(counting.ops())
        return waiting.shift() ?? null
      })
    // The run is not under test: it ends at once.
    const runner = (() => Effect.void) as unknown as Parameters<typeof makeWorkerPool>[1]
    const scope = yield* Scope.make()
    yield* Effect.withScheduler(
      makeWorkerPool(claimNext, runner, wake, undefined, undefined, (text) => text, DEFAULT_THRESHOLD, makeServiceClose().trackPool)({ concurrency, handler: () => Effect.void, pollInterval: "1 hour" }),
      counting.scheduler
    ).pipe(Scope.extend(scope))
    const handOut = (n: number) =>
      waiting.push({ job: { job_id: jobId(n), run_after: DateTime.unsafeMake(0) }, run: {} } as unknown as Claim)
    return { wake, claims, counting, handOut, scope }
  })

/** Lets the pool's fibers run until `claims` has `n` calls (and a little more, so loops that found nothing park). */
const untilClaims = (claims: ReadonlyArray<number>, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && claims.length < n; i++) yield* Effect.yieldNow()
    for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
    assert.strictEqual(claims.length, n)
  })

describe("issue 16 pickup: an idle pool parks on its doorbell", () => {
  it.effect("issue 16 pickup: an announcement reaches an idle loop's next claim in at most 20 Effect operations (the race over a subscription took 96)", () =>
    Effect.gen(function*() {
      const { claims, counting, wake } = yield* pool(1)
      yield* untilClaims(claims, 1)
      const before = counting.ops()
      yield* wake.announce(queued(1))
      yield* untilClaims(claims, 2)
      const ops = claims[1]! - before
      assert.isAtMost(ops, 20, `${ops} Effect operations from the announcement to the claim`)
    }).pipe(Effect.provide(WakeUp.layerInProcess)))

  it.effect("issue 15.3 one announcement wakes one of three idle loops; three wake three", () =>
    Effect.gen(function*() {
      const { claims, wake } = yield* pool(3)
      yield* untilClaims(claims, 3)
      yield* wake.announce(queued(1))
      yield* untilClaims(claims, 4)
      yield* wake.announce(queued(2))
      yield* wake.announce(queued(3))
      yield* wake.announce(queued(4))
      yield* untilClaims(claims, 7)
    }).pipe(Effect.provide(WakeUp.layerInProcess)))

  it.effect("issue 15.3 an announcement made while every loop is busy wakes the next loop that goes idle, at once; one of a job the pool claimed does not", () =>
    Effect.gen(function*() {
      const { claims, handOut, wake } = yield* pool(1)
      yield* untilClaims(claims, 1)
      // Job 1 is claimed on its announcement; while it runs (before the loop looks again), job 2 is
      // announced, and job 1's second announcement (the NOTIFY's echo) arrives.
      handOut(1)
      yield* wake.announce(queued(1))
      yield* wake.announce(queued(2))
      yield* wake.announce(queued(1))
      // Claimed 1; looked again (nothing); the kept announcement of 2: one more look; the echo of 1: none.
      yield* untilClaims(claims, 4)
      yield* TestClock.adjust("59 minutes")
      yield* untilClaims(claims, 4)
    }).pipe(Effect.provide(WakeUp.layerInProcess)))

  it.effect("issue 15.3 a job announced for later wakes an idle loop when its time comes on Effect's clock, not before; the poll still runs", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10_000)
      const { claims, wake } = yield* pool(1)
      yield* untilClaims(claims, 1)
      yield* wake.announce(queued(1, 15_000))
      yield* TestClock.adjust(4_999)
      yield* untilClaims(claims, 1)
      yield* TestClock.adjust(1)
      yield* untilClaims(claims, 2)
      // Nothing announced: the hour's poll.
      yield* TestClock.adjust("59 minutes")
      yield* untilClaims(claims, 2)
      yield* TestClock.adjust("1 minute")
      yield* untilClaims(claims, 3)
    }).pipe(Effect.provide(WakeUp.layerInProcess)))

  it.effect("issue 15.3 closing the pool wakes its parked loops at once: the scope closes without waiting for the poll", () =>
    Effect.gen(function*() {
      const { claims, scope } = yield* pool(2)
      yield* untilClaims(claims, 2)
      // Under TestClock no time passes: a close that waited for the hour's poll would never end.
      const closed = yield* Effect.timeoutOption(Effect.as(Scope.close(scope, Exit.void), "closed" as const), "1 minute").pipe(Effect.fork)
      yield* TestClock.adjust("1 minute")
      const result = yield* closed.await
      assert.deepStrictEqual(Exit.isSuccess(result) ? result.value._tag : "failed", "Some")
    }).pipe(Effect.provide(WakeUp.layerInProcess)))
})
