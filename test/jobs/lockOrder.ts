/**
 * A shutdown that must not wait for a lock another session holds: whether
 * it returned before the lock was let go — the order of the two events,
 * asserted, never a time. `boundMs` only makes code that waits for the lock
 * fail instead of hang.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { realSleep } from "./shared-database.js"

/** Asserts `closing` ended while the lock was held, then lets it go (`release`); `closing`'s value. */
export const endsBeforeRelease = <A, E>(closing: Fiber.Fiber<A, E>, release: Effect.Effect<void>, boundMs: number): Effect.Effect<A, E> =>
  Effect.gen(function*() {
    const first = yield* Effect.raceFirst(
      Effect.as(Fiber.await(closing), "shutdown returned"),
      Effect.as(realSleep(boundMs), "still waiting on the lock")
    )
    yield* release
    assert.deepStrictEqual([first, "lock released"], ["shutdown returned", "lock released"], "the shutdown must return before the lock is let go")
    return yield* Fiber.join(closing)
  })
