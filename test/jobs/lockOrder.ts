/**
 * A shutdown that must not wait for a lock another session holds: whether
 * it returned before the lock was let go — the order of the two events,
 * asserted, never a time. `boundMs` only makes code that waits for the lock
 * fail instead of hang. And SQLite's write lock held by another connection,
 * with the moment a store's write has met it.
 */
import { assert } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { openSqlite } from "../reliability/snapshot.js"
import { beforeStatement } from "../support/statementTrap.js"
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

/**
 * Another connection holding the write lock of the SQLite file `filename` (BEGIN IMMEDIATE) until
 * `release` (or the scope's end). `met(start)` runs `start` and resumes once a store's write has met the
 * lock: a BEGIN IMMEDIATE tried a second time — the store retries it while the lock is held.
 */
export const holdSqliteWriteLock = (filename: string) =>
  Effect.gen(function*() {
    const holder = yield* Effect.acquireRelease(Effect.sync(() => openSqlite(filename, { timeout: 0 })), (db) => Effect.sync(() => db.close()))
    holder.exec("BEGIN IMMEDIATE")
    return {
      release: Effect.sync(() => holder.exec("ROLLBACK")),
      met: <A, E, R>(start: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> => {
        const met = Deferred.unsafeMake<void>(FiberId.none)
        return Effect.asVoid(beforeStatement(Effect.zipRight(start, Deferred.await(met)), /BEGIN IMMEDIATE/i, () => Deferred.unsafeDone(met, Exit.void), 2))
      }
    }
  })
