/**
 * An eager write (`createClaimed`, eagerDispatch.ts) that failed with
 * `StorageError` may have committed all the same: the connection dropped
 * after the server ran the statement and before its answer was read. Its
 * outcome is read back by what the submit chose before the write — its
 * queued event's id (written with the job, in the same commit) and the new
 * run's id — so a committed job is answered as created and its claim still
 * goes to the pool's seat, not left `running` with no one to run it. When
 * even the look fails, the submit fails with the write's error, and a job
 * that did commit with its claim waits for Recovery (a sweep, or the next
 * startup) to stall its run: a warning names it. Not looked for when nothing
 * of the write ran (nothingRan.ts).
 */
import * as Effect from "effect/Effect"
import type { AiJob, NewAiJob } from "../../domain/AiJob.js"
import type { EventId, JobId, WorkflowRunId } from "../../domain/Ids.js"
import type { CreatedClaim, JobStore } from "../../store/JobStore.js"
import type { StorageError } from "../../store/StoreErrors.js"
import { wasCommitted } from "./createAnswerLost.js"
import { nothingRan } from "./nothingRan.js"

/** What the submit chose before its eager write: the job and its id, its queued event's id, the claim's run id. */
export interface EagerWrite {
  readonly jobId: JobId
  readonly job: NewAiJob
  readonly queuedEventId: EventId
  readonly runId: WorkflowRunId
}

/**
 * The eager write's outcome after `error`: what it committed (the job as
 * created, and its claim when the job is still running under the claim's
 * run), or `error` itself when it committed nothing or the look failed.
 */
export const committedEagerWrite = (
  store: JobStore["Type"],
  write: EagerWrite,
  error: StorageError
): Effect.Effect<CreatedClaim, StorageError> =>
  // Nothing of it ran (no connection could be had, the store closed): nothing to look up, nor to warn of.
  nothingRan(error) ? Effect.fail(error) : Effect.gen(function*() {
    // The job and its events are one commit: its queued event, by the id this submit gave it, is the job's.
    if (!(yield* wasCommitted(store, write.queuedEventId))) return yield* Effect.fail(error)
    const stored = yield* store.getJob(write.jobId)
    // As `createClaimed` answers: the job as it was created, before any claim moved it.
    const created: AiJob = {
      ...stored,
      state: "queued",
      workflow_run_id: null,
      status_reason: write.job.status_reason,
      updated_at: stored.created_at
    }
    // The run id is this submit's own: a job running under it was claimed by this write, and no one holds it.
    if (stored.workflow_run_id !== write.runId || stored.state !== "running") return { created, claim: null }
    const run = yield* store.getRun(write.runId)
    return { created, claim: { job: stored, run } }
  }).pipe(
    Effect.catchAll((failure) =>
      failure === error ? Effect.fail(error) : Effect.zipRight(
        Effect.annotateLogs(
          Effect.logWarning(
            `submit of job ${write.jobId}: its eager write failed (${error.message}) and looking up whether it committed failed too ` +
              `(${failure.message}); if it committed, the job is running under run ${write.runId} with no worker until Recovery ` +
              "(a sweep, or the next startup) stalls it"
          ),
          { job_id: write.jobId, workflow_run_id: write.runId }
        ),
        Effect.fail(error)
      ))
  )
