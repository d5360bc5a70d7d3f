/**
 * A worker pool's log of its failing iterations, one line a streak rather
 * than one a poll: while the database is down every idle loop fails at each
 * poll, and logged each time with its stack that was over a hundred warnings
 * in seven seconds at a 100 ms poll (an outside probe), burying the first.
 * The first failure of a streak is logged, then at most one every
 * `every` with the streak's length; the first iteration that works again
 * says how many failed.
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export const makeFailureStreak = (every: Duration.DurationInput = Duration.seconds(30)) => {
  const gap = Duration.toMillis(every)
  let streak = 0
  let loggedAt = Number.NEGATIVE_INFINITY
  let lookWarned = false
  return {
    /** Whether a failed claim's look (claimAnswerLost.ts) may warn: once a streak, the streak's own lines say the rest. */
    firstLookWarning: (): boolean => {
      if (lookWarned) return false
      lookWarned = true
      return true
    },
    /** `jobId`: the job the failure is about, when one is known (a claim released after its answer was lost): named, and logged whatever the streak. */
    failed: (cause: Cause.Cause<unknown>, jobId?: string): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        streak++
        if (jobId !== undefined) {
          return Effect.annotateLogs(
            Effect.logWarning(`worker iteration failed (job ${jobId}: its claim's answer was lost, and the job was released to queued)`, cause),
            { job_id: jobId }
          )
        }
        if (now - loggedAt < gap) return Effect.void
        loggedAt = now
        return Effect.logWarning(streak === 1 ? "worker iteration failed" : `worker iteration failed (${streak} in a row)`, cause)
      }),
    /** Nothing to do while nothing failed: one comparison on the way of every job. */
    succeeded: (): Effect.Effect<void> => {
      if (streak === 0) return Effect.void
      const failed = streak
      streak = 0
      loggedAt = Number.NEGATIVE_INFINITY
      lookWarned = false
      return Effect.logInfo(`worker iterations work again after ${failed} failed in a row`)
    }
  }
}
