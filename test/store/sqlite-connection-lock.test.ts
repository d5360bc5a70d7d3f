/**
 * Issue 16 (h50): the own SQLite client's one permit (src/store/sqlite/connectionLock.ts),
 * which replaced Effect's Semaphore. R10: nothing else runs on the connection while
 * a holder has it — so holders never overlap, however many race for it, and an
 * interrupted waiter neither takes the permit nor loses it (also when it is
 * interrupted just as the permit is handed to it).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { ConnectionLock } from "../../src/store/sqlite/connectionLock.js"

describe("issue 16 h50 the own SQLite client's connection lock", () => {
  it.effect("R10 200 racing holders, each yielding while it holds: never two at once, and every one runs", () =>
    Effect.gen(function*() {
      const lock = new ConnectionLock()
      let inside = 0
      let most = 0
      let ran = 0
      const holder = lock.holding(Effect.gen(function*() {
        inside++
        most = Math.max(most, inside)
        yield* Effect.yieldNow()
        yield* Effect.yieldNow()
        inside--
        ran++
      }))
      yield* Effect.all(Array.from({ length: 200 }, () => holder), { concurrency: "unbounded" })
      assert.strictEqual(most, 1)
      assert.strictEqual(ran, 200)
      assert.isTrue(lock.tryTake(), "free at the end")
    }))

  it.effect("R10 a waiter interrupted while it waits takes nothing: the permit goes to the next", () =>
    Effect.gen(function*() {
      const lock = new ConnectionLock()
      const release = yield* Deferred.make<void>()
      const first = yield* Effect.fork(lock.holding(Deferred.await(release)))
      yield* Effect.yieldNow()
      let waiterRan = false
      const waiter = yield* Effect.fork(lock.holding(Effect.sync(() => {
        waiterRan = true
      })))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiter)
      let nextRan = false
      const next = yield* Effect.fork(lock.holding(Effect.sync(() => {
        nextRan = true
      })))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(next)
      assert.isFalse(waiterRan)
      assert.isTrue(nextRan)
      assert.isTrue(lock.tryTake(), "free at the end")
    }))

  it.effect("R10 a waiter interrupted just as the permit is handed to it passes it on", () =>
    Effect.gen(function*() {
      const lock = new ConnectionLock()
      assert.isTrue(lock.tryTake())
      const waiter = yield* Effect.fork(lock.holding(Effect.never))
      yield* Effect.yieldNow()
      // Handed over and interrupted in the same turn, before the waiter runs again.
      lock.release()
      yield* Fiber.interrupt(waiter)
      assert.isTrue(lock.tryTake(), "the permit came back")
      lock.release()
      const after = yield* Effect.exit(lock.holding(Effect.succeed("ran")))
      assert.deepStrictEqual(after._tag, "Success")
    }))

  it.effect("R10 a holder that fails or dies gives the permit back", () =>
    Effect.gen(function*() {
      const lock = new ConnectionLock()
      yield* Effect.exit(lock.holding(Effect.fail("no")))
      yield* Effect.exit(lock.holding(Effect.die("boom")))
      assert.isTrue(lock.tryTake())
    }))
})
