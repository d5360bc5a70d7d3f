/**
 * A Clock that reads `offset` earlier than the real one. The demo uses it to
 * write, honestly and instantly, what a worker that crashed minutes ago leaves
 * behind: a job claimed then, and a run whose last heartbeat is that old.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** The real clock shifted `offset` into the past. */
export const pastClock = (offset: Duration.DurationInput): Clock.Clock => {
  const base = Clock.make()
  const ms = Duration.toMillis(offset)
  const nanos = BigInt(Math.round(ms)) * 1_000_000n
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis() - ms,
    currentTimeMillis: Effect.sync(() => base.unsafeCurrentTimeMillis() - ms),
    unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos() - nanos,
    currentTimeNanos: Effect.sync(() => base.unsafeCurrentTimeNanos() - nanos),
    sleep: (duration) => base.sleep(duration)
  }
}
