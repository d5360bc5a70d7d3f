/**
 * The store's "now" in one Effect operation: `DateTime.now` reads the same
 * `Clock` (so a `TestClock` still moves a store's timestamps) but takes a
 * service lookup, a map and a `sync` to do it (issue 16).
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"

/** `f` of the clock's instant now. */
export const withNow = <A, E, R>(f: (now: DateTime.Utc) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.clockWith((clock) => f(DateTime.unsafeMake(clock.unsafeCurrentTimeMillis())))

/** `f` of a creation's given instant (`JobStore` `Creation.at`: a submit's), else of the clock's instant now. */
export const atOrNow = <A, E, R>(at: DateTime.Utc | undefined, f: (now: DateTime.Utc) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  at === undefined ? withNow(f) : f(at)
