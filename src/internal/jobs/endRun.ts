/**
 * The one way out of `running` for a job's own code paths (recovery's stall,
 * R6a, is the other, and only recovery's): the job moves on — completed,
 * failed, cancelled, poisoned, … or handed back to `queued` — and its active
 * run ends with the same status (and so do node executions it left running,
 * openNodes.ts), with the job's lifecycle event, in the caller's transaction.
 *
 * Lock order (JobStore.ts): the caller has locked the job (`lockJob`) and
 * checked it is running under `runId`; only then is the job written, then
 * the run. `Jobs` moves (an operator cancelling a running job, say) and a
 * run's own settle (runJob.ts) both end here.
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { EventId, JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import { MAX_ATTEMPTS_LIMIT } from "../../domain/RetryPolicy.js"
import type { TransitionTarget } from "../../domain/Lifecycle.js"
import type { DecodeFailure } from "../../domain/Errors.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import { auditWith, type JobStore, type ReadError, type RunningJobEnd } from "../../store/JobStore.js"
import { afterLastChange, lifecycleEvent, type Prepare } from "./auditEvents.js"
import { endOpenNodes, nodeEndMessage } from "./openNodes.js"

/** How a run ends: the job's next state, and what is recorded about it. */
export interface RunEnd {
  readonly to: Exclude<TransitionTarget, "running">
  /** The job's `status_reason` and the event's reason, when given. */
  readonly reason?: string
  /**
   * The run's `error_message` (null when not given), and the job's when it is
   * text: a failure's error replaces the job's, while a null (a success) keeps
   * an earlier failure's (README: kept until a later failure replaces it).
   */
  readonly error?: string | null
  readonly actor?: "human" | "agent" | "system"
  /** The lifecycle record's id, when the writer must find it again (a run's own settle, runJob.ts). */
  readonly event_id?: EventId
}

export const makeEndRun = (store: JobStore["Type"], prepare: Prepare) =>
  /** Ends `runId`, the active run of the locked, running `job`, and moves the job to `end.to`. */
  (job: AiJob, runId: WorkflowRunId, end: RunEnd) =>
    Effect.gen(function*() {
      // Never before the job's last change (`job` is the locked row) nor its records, whatever the clock reads.
      const at = yield* afterLastChange(store, job)
      const record = yield* prepare(lifecycleEvent({
        job,
        from: "running",
        to: end.to,
        workflow_run_id: runId,
        timestamp: at,
        // The attempt the run was (issue 15.1).
        attempt: job.attempt,
        ...(end.reason !== undefined ? { reason: end.reason } : {}),
        ...(end.actor !== undefined ? { actor: end.actor } : {}),
        ...(end.event_id !== undefined ? { event_id: end.event_id } : {})
      }))
      // Handing the job back is the reserved release edge: the job queued, the run failed, in one write.
      if (end.to === "queued") return yield* store.releaseRun(runId, { reason: end.reason ?? "released", events: auditWith([record]), at })
      // Nodes the run left running end with it (a run's own settle has none left).
      yield* endOpenNodes(store, runId, end.to, nodeEndMessage(end.to, end.error, end.reason)).pipe(
        Effect.catchTag("RunNotActive", () => Effect.void)
      )
      const after = yield* store.transition({
        job_id: job.job_id,
        // Compare-and-set on the state locked: with the row held it cannot miss, and it never overwrites.
        from: "running",
        to: end.to,
        status_reason: end.reason ?? "",
        ...(typeof end.error === "string" ? { error_message: end.error } : {}),
        events: auditWith([record]),
        at
      })
      // A run already ended (it cannot be, with its job locked running under it) has nothing left to end.
      yield* store.finishRun(runId, end.to, { error_message: end.error ?? null }).pipe(
        Effect.catchTag("RunNotActive", () => Effect.void)
      )
      return after
    })

/**
 * `makeEndRun` in one statement, where the store has it
 * (`JobStore.finishRunningJob`): the job need not be locked and read first.
 * Its lifecycle record is the one `makeEndRun` builds, prepared before the
 * job is read: the job's trace id, run id and attempt are placeholders the
 * store fills from the row — the attempt at its widest, so the record's size
 * is checked at its largest. Null when the store has no such path or the job
 * is not running under a run: the caller takes the general path.
 */
export const makeFinishRunning = (store: JobStore["Type"], prepare: Prepare) =>
  (given: JobId, end: RunEnd & { readonly to: RunningJobEnd["to"] }): Effect.Effect<AiJob | null, DecodeFailure | ReadError> => {
    const finishRunningJob = store.finishRunningJob
    // An id that is no text takes the general path too, whose port refuses it (a DecodeFailure).
    if (finishRunningJob === undefined || typeof given !== "string") return Effect.succeed(null)
    // The record names the job before any row is read, so in the id's one stored form (an
    // upper-case id names the same job): the store writes the record as built, and a record
    // under the id as given was missed by the job's own history on SQLite, and carried the
    // given case in its body on PostgreSQL. A malformed id stays malformed: the port refuses it.
    const jobId = given.toLowerCase() as JobId
    const to = end.to
    return Effect.flatMap(
      prepare(lifecycleEvent({
        job: { job_id: jobId, trace_id: jobId as string as TraceId },
        from: "running",
        to,
        workflow_run_id: jobId as string as WorkflowRunId,
        attempt: MAX_ATTEMPTS_LIMIT,
        ...(end.reason !== undefined ? { reason: end.reason } : {}),
        ...(end.actor !== undefined ? { actor: end.actor } : {})
      })),
      (event) => finishRunningJob(runningJobEnd(jobId, end, event))
    )
  }

/** The store's request for `end` of `jobId` with its record, built in place (no spread copies); the error only when it is text (`RunEnd.error`). */
const runningJobEnd = (job_id: JobId, end: RunEnd & { readonly to: RunningJobEnd["to"] }, event: EventRecord): RunningJobEnd => {
  const request: { -readonly [K in keyof RunningJobEnd]: RunningJobEnd[K] } = { job_id, to: end.to, status_reason: end.reason ?? "", event }
  if (typeof end.error === "string") request.error_message = end.error
  return request
}
