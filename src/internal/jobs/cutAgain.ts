/**
 * A worker pool's drain cut, sent again until what it cuts has ended (R8).
 * A cancel reaches only a statement already sent, and a write whose
 * statement was cancelled may send another: a claim loop that waited in line
 * behind it (the store sends one claim statement at a time), a run's end
 * that shared a group-commit statement, run again alone (internal/coalesce.ts).
 */
import * as Effect from "effect/Effect"
import { sleepRealTime } from "../../util/sleepRealTime.js"

/** How soon a statement sent after a cut is cut in its turn. */
const RECUT_MS = 100

/** `cutOnce` at once and then every `RECUT_MS`, until interrupted. */
export const cutAgain = (cutOnce: Effect.Effect<void>): Effect.Effect<never> =>
  Effect.forever(Effect.zipRight(cutOnce, sleepRealTime(RECUT_MS)))
