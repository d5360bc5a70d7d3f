/**
 * A claimed job whose stored row does not decode: a value the database
 * accepts and the domain refuses (JSON with a `__proto__` key or nested past
 * the depth bound, an entity ref that is no `EntityRef`, a trace id that is
 * no id — written by another tool or an old version). No program can run
 * it, and no retry can mend it: the job fails at once, with its run, and a
 * lifecycle record whose reason names the column and why
 * (`JobStore.failUnreadableJob`), and the claimer looks for the next job.
 * Without this a claim that committed (PostgreSQL's one-statement claim)
 * left the job `running` with nobody working it until recovery, and one that
 * rolled back (every SQLite claim) left it first in the queue for ever, so
 * no job behind it was ever claimed.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { isCanonicalId, type JobId, type TraceId, type WorkflowRunId } from "../../domain/Ids.js"
import { MAX_ATTEMPTS_LIMIT } from "../../domain/RetryPolicy.js"
import type { JobStore } from "../../store/JobStore.js"
import type { CorruptRow } from "../../store/StoreErrors.js"
import { describeCause } from "../describeCause.js"
import { lifecycleEvent, type Prepare } from "./auditEvents.js"

/** Whether a claim's failure is its job's row not decoding (the job it names, in canonical form). */
export const isUnreadableJob = (error: unknown): error is CorruptRow =>
  (error as { readonly _tag?: unknown } | null)?._tag === "CorruptRow" &&
  (error as CorruptRow).table === "ai_jobs" && isCanonicalId((error as CorruptRow).row_id)

export const makeFailUnreadable = (store: JobStore["Type"], prepare: Prepare) =>
  /** Fails the job `error` names, if it is still queued or running; its reason is the error's text (column and why). */
  (error: CorruptRow) =>
    Effect.gen(function*() {
      const job_id = error.row_id as JobId
      const reason = describeCause(Cause.fail(error))
      // Prepared before the row is read: the trace, run, state left and attempt are the store's to fill
      // in (the attempt at its widest, so the record's size is checked at its largest).
      const event = yield* prepare(lifecycleEvent({
        job: { job_id, trace_id: job_id as string as TraceId },
        from: "running",
        to: "failed",
        workflow_run_id: job_id as string as WorkflowRunId,
        attempt: MAX_ATTEMPTS_LIMIT,
        reason
      }))
      yield* store.failUnreadableJob({ job_id, reason, event }).pipe(
        // Deleted meanwhile (pruned): nothing left to fail.
        Effect.catchTag("NotFound", () => Effect.void)
      )
    })
