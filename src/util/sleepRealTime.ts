/**
 * A sleep in real (wall-clock) time, not on Effect's `Clock`: waits for locks
 * and retries after transient database failures are about real concurrency,
 * and a `TestClock` that tests use to move job time must not stall them.
 */
import * as Effect from "effect/Effect"

/** Node's longest timer; a longer (or infinite) wait would fire at once. */
const LONGEST_TIMER_MS = 2 ** 31 - 1

/** Resumes after `ms` milliseconds of real time (never, for an infinite `ms`); interruptible (the timer is cleared). */
export const sleepRealTime = (ms: number): Effect.Effect<void> =>
  Number.isNaN(ms) || ms === Infinity
    ? Effect.never
    : Effect.async<void>((resume) => {
      const timer = setTimeout(() => resume(Effect.void), Math.min(Math.max(0, ms), LONGEST_TIMER_MS))
      return Effect.sync(() => clearTimeout(timer))
    })
