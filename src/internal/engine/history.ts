/**
 * A job's history (issue 15.6) without the caller touching `JobStore`: the
 * job, its oldest workflow runs each with its first node executions in
 * sequence order — bounded as `GET /jobs/:id` is (R14), since every retry,
 * resume or release makes a run and a run may have any number of nodes — and
 * its Flight Recorder events (oldest first, every page).
 */
import * as Effect from "effect/Effect"
import type { AiJob } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { EvidenceMissing } from "../../domain/RetentionHorizon.js"
import type { JobId, WorkflowRunId } from "../../domain/Ids.js"
import type { NodeExecution, WorkflowRun } from "../../domain/WorkflowRun.js"
import type * as Tracer from "effect/Tracer"
import { nameJob, type Redact, withJobSpan } from "../flight/jobSpan.js"
import type { JobStore } from "../../store/JobStore.js"
import { DETAIL_NODES, DETAIL_RUNS, firstNodes, firstRuns } from "../firstOfRuns.js"
import { missingEvidenceOf } from "../missingEvidence.js"
import { sayingWhenPruned } from "../prunedJob.js"

/** What `Jobs.history` returns. */
export interface JobHistory {
  readonly job: AiJob
  /** The job's oldest 100 runs (`DETAIL_RUNS`), each with its first 1000 node executions (`DETAIL_NODES`). */
  readonly runs: ReadonlyArray<{
    readonly run: WorkflowRun
    readonly nodes: ReadonlyArray<NodeExecution>
    /** The last node's sequence when more follow (`JobStore.listNodes(run.id, { after })` reads on), else null. */
    readonly nodes_next_cursor: number | null
  }>
  /** The last run's id when more follow (`JobStore.listRuns(job_id, { after })` reads on), else null. */
  readonly runs_next_cursor: WorkflowRunId | null
  readonly events: ReadonlyArray<EventRecord>
  /** Set when the job started before the newest cutoff retention applied: events before it may be gone (FR-EVT-004). */
  readonly evidence_missing: EvidenceMissing | null
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
    const job = yield* sayingWhenPruned(store, jobId, store.getJob(jobId))
    const shownRuns = yield* firstRuns(store, job.job_id, DETAIL_RUNS)
    const runs = yield* Effect.forEach(
      shownRuns.items,
      (run) => Effect.map(firstNodes(store, run.id, DETAIL_NODES), (nodes) => ({ run, nodes: nodes.items, nodes_next_cursor: nodes.next }))
    )
    const events: Array<EventRecord> = []
    let cursor: string | undefined
    do {
      const page = yield* store.listEvents({ job_id: job.job_id, order: "asc", limit: 1000, ...(cursor !== undefined ? { cursor } : {}) })
      events.push(...page.items)
      cursor = page.next_cursor ?? undefined
    } while (cursor !== undefined)
    const evidence_missing = yield* missingEvidenceOf(store, job, shownRuns.items)
    return { job, runs, runs_next_cursor: shownRuns.next, events, evidence_missing } satisfies JobHistory
  })).pipe(
    // Named on Jobs.history's own span, outside the transaction's.
    Effect.tap((history) => nameJob(span, history.job))
  )
