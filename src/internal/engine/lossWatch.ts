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
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type { AiJob } from "../../domain/AiJob.js"
import type { JobId, WorkflowRunId } from "../../domain/Ids.js"
import type * as WakeUp from "../wakeUp/wakeUp.js"

/** A run's watch over its job: `lost` completes once the job is taken from the run; `close` ends the watch. */
export interface LossWatch {
  readonly lost: Effect.Effect<string>
  readonly close: () => void
}

/**
 * Starts watching, at once, the announcements about job `jobId` (no Effect
 * step: a run does it right before its program starts, so a change announced
 * from then on is heard however late `lost` is first run). `lost` completes
 * with the job's state once job `jobId` is no longer running under run
 * `runId`; never otherwise. A failed read is not a loss: the heartbeat
 * decides then. Call `close` when the run no longer listens.
 */
export const watchLoss = <E>(
  wakeUp: WakeUp.WakeUp["Type"],
  jobId: JobId,
  runId: WorkflowRunId,
  readJob: (jobId: JobId) => Effect.Effect<AiJob, E>
): LossWatch => {
  // Set by an announcement that may mean the job left the run; kept until `lost` reads the job.
  let heard = false
  let waiting: Deferred.Deferred<void> | undefined
  const close = wakeUp.watchJob(jobId, (signal) => {
    if (signal._tag === "LookAgain" || signal.state !== "running") {
      heard = true
      if (waiting !== undefined) Deferred.unsafeDone(waiting, Exit.void)
    }
  })
  const lost = Effect.gen(function*() {
    for (;;) {
      if (!heard) {
        waiting = Deferred.unsafeMake<void>(FiberId.none)
        yield* Deferred.await(waiting)
      }
      heard = false
      const job = yield* Effect.option(readJob(jobId))
      if (job._tag === "Some" && (job.value.state !== "running" || job.value.workflow_run_id !== runId)) {
        return job.value.state
      }
    }
  })
  return { lost, close }
}
