/**
 * A run's log of its failed heartbeats, one warning an outage rather than
 * one a beat: while the database is out of reach or held locked, every
 * running job's beat fails at each interval, and each was a WARN naming
 * neither the job nor its run, the error dumped whole with the driver's
 * own words buried in it (an outside probe: 40 lines in a 5 s PostgreSQL
 * outage with four jobs at a 500 ms beat). The first failure of a streak
 * is a warning that names the job and run, says the error's message and
 * what it means; the streak's later failures are debug lines; the first
 * beat written again says how many failed.
 */
import * as Effect from "effect/Effect"
import type { ReadError } from "../../store/JobStore.js"

export const makeHeartbeatFailures = (jobId: string, runId: string) => {
  let streak = 0
  const annotated = (line: Effect.Effect<void>) => Effect.annotateLogs(line, { job_id: jobId, workflow_run_id: runId })
  return {
    failed: (error: ReadError): Effect.Effect<void> => {
      streak++
      return annotated(
        streak === 1
          ? Effect.logWarning(
            `heartbeat failed for job ${jobId} (run ${runId}): ${error.message}. The run goes on and beats again at its next interval; ` +
              "if its beats keep failing past recovery's threshold (30 s by default), recovery stalls the run and its end is refused: " +
              "see that the database is reachable and not held locked by another connection"
          )
          : Effect.logDebug(`heartbeat failed again for job ${jobId} (run ${runId}), ${streak} in a row: ${error.message}`)
      )
    },
    /** Nothing to do while nothing failed: one comparison a beat. */
    succeeded: (): Effect.Effect<void> => {
      if (streak === 0) return Effect.void
      const failed = streak
      streak = 0
      return annotated(Effect.logInfo(`heartbeat written again for job ${jobId} (run ${runId}) after ${failed} failed in a row`))
    }
  }
}
