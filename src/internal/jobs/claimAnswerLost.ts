/**
 * A claim whose caller was interrupted after the claim committed (an
 * `Effect.timeout` or a lost race around `Jobs.claimNext`, `start`,
 * `resume`, `rework`): the store finishes its write, then the interrupt
 * takes effect and the answer — the Claim — is lost. The job stayed
 * `running` under a run nobody holds until recovery stalled it. The claim is
 * found again by what the call knew before its commit — its new run's id, or
 * (a claim in one statement, whose run id is the store's) the event ids it
 * gave its records — and released to `queued`, as `Jobs.run` releases an
 * interrupted run (runJob.ts `release`). Only on the interrupt's path: a
 * claim that answers pays one field write per attempt.
 */
import * as Effect from "effect/Effect"
import type { EventId, WorkflowRunId } from "../../domain/Ids.js"
import type { Claim, JobStore } from "../../store/JobStore.js"

/** A fresh note for one call: nothing written yet. */
export const newClaimNote = (): ClaimNote => ({ last: undefined })

/**
 * What the last write of a call may have committed: its run's id or its
 * records' event ids, noted before its commit — or the id of the offered run
 * it adopted, noted only once that adoption committed (`adoptOfferedRun`'s
 * `adopted`): the run was running before, so only the adoption's own commit
 * says it is the caller's.
 */
export interface ClaimNote {
  last: WorkflowRunId | ReadonlyArray<EventId> | undefined
}

/** The reason the release of a claim whose answer an interrupt lost records. */
export const claimInterruptedReason = (operation: string) =>
  `released: ${operation} was interrupted after its claim was written, before its caller got the claim`

/** The run the records with ids `eventIds` name, when they were written (the first that names a run). */
const runOfRecords = (store: JobStore["Type"], eventIds: ReadonlyArray<EventId>, i = 0): Effect.Effect<WorkflowRunId | undefined, unknown> =>
  i >= eventIds.length
    ? Effect.succeed(undefined)
    : Effect.flatMap(store.listEvents({ event_id: eventIds[i]!, limit: 1 }), (found) => {
      const record = found.items[0]
      // None written under the first id: the write committed nothing (its records commit with it).
      if (record === undefined) return Effect.succeed(undefined)
      return record.workflow_run_id !== null ? Effect.succeed(record.workflow_run_id) : runOfRecords(store, eventIds, i + 1)
    })

/**
 * Releases the claim `note` names when it was committed and its job is
 * still running under it; nothing when the write committed nothing (rolled
 * back, or never begun). A failure to look or to release is logged: the job
 * then stays running until recovery stalls its run, as before.
 */
export const releaseLostClaim = (
  store: JobStore["Type"],
  note: ClaimNote,
  release: (claim: Claim) => Effect.Effect<void, unknown>,
  operation: string
): Effect.Effect<void> => {
  const last = note.last
  if (last === undefined) return Effect.void
  const runId = typeof last === "string" ? Effect.succeed<WorkflowRunId | undefined>(last) : runOfRecords(store, last)
  return Effect.flatMap(runId, (id) =>
    id === undefined ? Effect.void : Effect.flatMap(
      Effect.catchTag(store.getRun(id), "NotFound", () => Effect.succeed(undefined)),
      (run) =>
        run === undefined || run.status !== "running" ? Effect.void : Effect.flatMap(store.getJob(run.job_id), (job) =>
          job.state === "running" && job.workflow_run_id === run.id ? release({ job, run }) : Effect.void)
    )).pipe(
      Effect.catchAllCause((cause) =>
        Effect.logWarning(`${operation} was interrupted after its claim may have been written, and releasing that claim failed: ` +
          "its job stays running until recovery stalls its run", cause))
    )
}
