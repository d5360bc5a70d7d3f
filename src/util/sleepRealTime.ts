/**
 * A sleep in real (wall-clock) time, not on Effect's `Clock`: waits for locks
 * and retries after transient database failures are about real concurrency,
 * and a `TestClock` that tests use to move job time must not stall them.
 */
import * as Effect from "effect/Effect"
import { LONGEST_TIMER_MS } from "./clockSleep.js"

/**
 * Resumes after `ms` milliseconds of real time (never, for an infinite `ms`); interruptible (the timer is cleared).
 * A wait longer than Node's longest timer (a pool's drain time of weeks) is waited in chunks of that timer.
 */
export const sleepRealTime = (ms: number): Effect.Effect<void> =>
  Number.isNaN(ms) || ms === Infinity
    ? Effect.never
    : ms > LONGEST_TIMER_MS
    ? Effect.zipRight(timer(LONGEST_TIMER_MS), Effect.suspend(() => sleepRealTime(ms - LONGEST_TIMER_MS)))
    : timer(Math.max(0, ms))

const timer = (ms: number): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const handle = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(handle))
  })
