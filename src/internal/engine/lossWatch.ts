/**
 * Cancellation that reaches a running program (issue 15.5). A run watches
 * the announcements about its job: when the job leaves `running` (an
 * operator's cancel from any process, a resume under a new run) — or when
 * announcements may have been missed — it reads the job, and if the job is
 * no longer running under this run, the run is lost at once rather than at
 * its next heartbeat. On PostgreSQL the announcement is the database's
 * (every process hears it); in process on SQLite; with neither, the next
 * heartbeat finds out as before.
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { JobId, WorkflowRunId } from "../../domain/Ids.js"
import * as WakeUp from "../wakeUp/wakeUp.js"

/**
 * Completes with the job's state once job `jobId` is no longer running under
 * run `runId`; never otherwise. A failed read is not a loss: the heartbeat
 * decides then.
 */
export const awaitLoss = <E>(
  subscription: WakeUp.Subscription,
  jobId: JobId,
  runId: WorkflowRunId,
  readJob: (jobId: JobId) => Effect.Effect<AiJob, E>
): Effect.Effect<string> =>
  Effect.gen(function*() {
    for (;;) {
      yield* WakeUp.awaitChange(subscription, jobId, (state) => state !== "running")
      const job = yield* Effect.option(readJob(jobId))
      if (job._tag === "Some" && (job.value.state !== "running" || job.value.workflow_run_id !== runId)) {
        return job.value.state
      }
    }
  })
