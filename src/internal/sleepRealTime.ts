/**
 * A sleep in real (wall-clock) time, not on Effect's `Clock`: waits for locks
 * and retries after transient database failures are about real concurrency,
 * and a `TestClock` that tests use to move job time must not stall them.
 */
import * as Effect from "effect/Effect"

/** Resumes after `ms` milliseconds of real time; interruptible (the timer is cleared). */
export const sleepRealTime = (ms: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })
