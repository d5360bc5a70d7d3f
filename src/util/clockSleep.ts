/**
 * Waits on Effect's `Clock` for any finite duration. The default Clock sets
 * no timer at all for a sleep above Node's longest timer (2^31 − 1 ms, about
 * 24.8 days: `MAX_TIMER_MILLIS` in effect's internal clock.ts), so
 * `Effect.sleep`, `Schedule.spaced` and `Effect.timeout` given a longer
 * duration — a Janitor interval of "30 days", a recovery sweep, a poll, an
 * await's timeout — never end. Here such a wait is slept in chunks no longer
 * than that timer, each through the current `Clock`, so a `TestClock` still
 * drives it. A wait within the timer costs one comparison more.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** Node's longest timer: the default Clock sets none for a longer sleep. */
export const LONGEST_TIMER_MS = 2 ** 31 - 1

const longestTimer = Duration.millis(LONGEST_TIMER_MS)

/** Resumes after `ms` milliseconds on the current Clock (never, for an infinite `ms`; at once for NaN, as `Effect.sleep`); interruptible. */
export const sleepMillis = (ms: number): Effect.Effect<void> =>
  ms <= LONGEST_TIMER_MS || Number.isNaN(ms)
    ? Effect.sleep(Duration.millis(ms))
    : ms === Infinity
    ? Effect.never
    : Effect.zipRight(Effect.sleep(longestTimer), Effect.suspend(() => sleepMillis(ms - LONGEST_TIMER_MS)))

/** Resumes after `duration` on the current Clock, however long (never, for an infinite one); interruptible. */
export const sleep = (duration: Duration.Duration): Effect.Effect<void> =>
  Duration.lessThanOrEqualTo(duration, longestTimer) ? Effect.sleep(duration) : sleepMillis(Duration.toMillis(duration))

/**
 * `Effect.timeoutOption` for any finite duration: `effect`'s value, or none
 * (`effect` interrupted) once `duration` has passed on the current Clock.
 */
export const timeoutOption = <A, E, R>(effect: Effect.Effect<A, E, R>, duration: Duration.Duration): Effect.Effect<Option.Option<A>, E, R> =>
  Duration.lessThanOrEqualTo(duration, longestTimer)
    ? Effect.timeoutOption(effect, duration)
    : Effect.raceFirst(Effect.map(effect, Option.some), Effect.as(sleep(duration), Option.none<A>()))
