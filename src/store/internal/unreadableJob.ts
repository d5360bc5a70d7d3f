/**
 * `failUnreadableJob`'s part shared by both stores: what the locked row's
 * few raw columns mean, and the job's record with its placeholders filled
 * from them. Nothing here decodes the row: it is the row that does not.
 */
import type { EventRecord } from "../../domain/EventRecord.js"
import { isCanonicalId, type TraceId, type WorkflowRunId } from "../../domain/Ids.js"
import type { UnreadableJobFailure } from "../JobStore.js"

/** The columns `failUnreadableJob` reads, raw, with the job locked. */
export interface UnreadableJobState {
  readonly status: unknown
  readonly workflow_run_id: unknown
  readonly trace_id: unknown
  readonly attempt: unknown
}

/**
 * What to do with the job as found: fail it with its active run (`running`),
 * claim and fail it at once (`queued`: a new run), or nothing (any other
 * state: someone else ended it).
 */
export const unreadableJobMove = (state: UnreadableJobState): { readonly from: "running"; readonly run: WorkflowRunId } | { readonly from: "queued" } | null =>
  state.status === "running" && isCanonicalId(state.workflow_run_id)
    ? { from: "running", run: state.workflow_run_id as WorkflowRunId }
    : state.status === "queued"
    ? { from: "queued" }
    : null

/**
 * The job's record as written: the row's trace id, the run, the state it
 * left and its attempt. A trace id or attempt that is itself what does not
 * decode is left as prepared (the job's id as its trace; the attempt
 * dropped): the record stays valid, and its reason names the column.
 */
export const unreadableJobRecord = (
  failure: UnreadableJobFailure,
  state: UnreadableJobState,
  move: { readonly from: "queued" | "running" },
  runId: WorkflowRunId
): EventRecord => {
  const trace_id = isCanonicalId(state.trace_id) ? state.trace_id as TraceId : failure.event.trace_id
  const { attempt: _placeholder, ...body } = failure.event.body
  const attempt = Number.isSafeInteger(state.attempt) && (state.attempt as number) >= 1 ? { attempt: state.attempt as number } : {}
  return {
    ...failure.event,
    trace_id,
    workflow_run_id: runId,
    body: { ...body, trace_id, workflow_run_id: runId, from_state: move.from, ...attempt }
  }
}
