/**
 * A clock one millisecond later on every read: a change that reads the clock
 * twice gets two instants, so a test sees whether its records share one.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

export const steppingClock = (startIso = "2031-05-06T07:08:09.000Z"): Clock.Clock => {
  let ms = Date.parse(startIso)
  const next = () => (ms += 1)
  const live = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: next,
    currentTimeMillis: Effect.sync(next),
    unsafeCurrentTimeNanos: () => BigInt(next()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(next()) * 1_000_000n),
    sleep: live.sleep
  }
}
