/**
 * A job's whole history (issue 15.6) without the caller touching `JobStore`:
 * the job, its workflow runs (oldest first) each with its node executions in
 * sequence order, and its Flight Recorder events (oldest first, every page).
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { JobId } from "../../domain/Ids.js"
import type { NodeExecution, WorkflowRun } from "../../domain/WorkflowRun.js"
import type * as Tracer from "effect/Tracer"
import { nameJob, type Redact, withJobSpan } from "../flight/jobSpan.js"
import type { JobStore } from "../../store/JobStore.js"

/** What `Jobs.history` returns. */
export interface JobHistory {
  readonly job: AiJob
  readonly runs: ReadonlyArray<{ readonly run: WorkflowRun; readonly nodes: ReadonlyArray<NodeExecution> }>
  readonly events: ReadonlyArray<EventRecord>
}

/** `Jobs.history` over a store; its span ends with a failure passed through `redact` (jobSpan.ts). */
export const makeHistory = (store: JobStore["Type"], redact: Redact) => (jobId: JobId) =>
  withJobSpan("Jobs.history", (span) => {
    nameJob(span, { job_id: jobId })
    return historyOf(store, jobId, span)
  }, redact)

const historyOf = (store: JobStore["Type"], jobId: JobId, span: Tracer.Span) =>
  // One committed state: a change committed while the history is read is in all of it or none.
  store.readConsistent(Effect.gen(function*() {
    const job = yield* store.getJob(jobId)
    const runs = yield* Effect.forEach(
      yield* store.listRuns(job.job_id),
      (run) => Effect.map(store.listNodes(run.id), (nodes) => ({ run, nodes }))
    )
    const events: Array<EventRecord> = []
    let cursor: string | undefined
    do {
      const page = yield* store.listEvents({ job_id: job.job_id, order: "asc", limit: 1000, ...(cursor !== undefined ? { cursor } : {}) })
      events.push(...page.items)
      cursor = page.next_cursor ?? undefined
    } while (cursor !== undefined)
    return { job, runs, events } satisfies JobHistory
  })).pipe(
    // Named on Jobs.history's own span, outside the transaction's.
    Effect.tap((history) => nameJob(span, history.job))
  )
