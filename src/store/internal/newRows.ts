/** The rows a store writes for a new job and a new run: the same for every dialect. */
import * as DateTime from "effect/DateTime"
import type { AiJob, NewAiJob } from "../../domain/AiJob.js"
import type { JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import { uuidv7 } from "../../domain/uuidv7.js"
import type { WorkflowRun } from "../../domain/WorkflowRun.js"

/**
 * A new job as `createJob` stores it: queued, zeroed metrics, no run, fresh
 * ids unless given, timestamps `now`, its first attempt (of one unless
 * given; its own backoff, if any), eligible at its run-after time or `now`, whichever is later (so a
 * job is never eligible before it existed).
 */
export const newJob = (input: NewAiJob, now: DateTime.Utc): AiJob => ({
  // uuidv7 gives canonical lower-case ids: the brands' checks would only say so again (issue 16).
  job_id: input.job_id ?? uuidv7() as JobId,
  trace_id: input.trace_id ?? uuidv7() as TraceId,
  workflow_run_id: null,
  job_kind: input.job_kind,
  state: "queued",
  protocol_id: input.protocol_id,
  profile_id: input.profile_id,
  capability_profile_id: input.capability_profile_id,
  access_mode: input.access_mode,
  safety_mode: input.safety_mode,
  entity_refs: input.entity_refs,
  planned_operations: input.planned_operations,
  metrics: JobMetrics.zero,
  status_reason: input.status_reason,
  error_message: null,
  job_inputs: input.job_inputs,
  job_outputs: null,
  is_pinned: input.is_pinned,
  created_at: now,
  updated_at: now,
  attempt: 1,
  max_attempts: input.max_attempts ?? 1,
  run_after: input.run_after === undefined ? now : DateTime.max(now, input.run_after),
  priority: input.priority,
  backoff: input.backoff ?? null
})

/**
 * A new run of `jobId` as `createRun` and `claimNext` store it: running, its
 * timestamps `now` (the move that begins it, never before the job's last
 * change) and its first heartbeat `beat`, the writer's clock reading as it
 * is (liveness: lifted to a change made on a clock ahead, a run whose worker
 * died before its first beat would not be stale until that clock's time).
 */
export const newRun = (jobId: JobId, now: DateTime.Utc, id: WorkflowRunId = uuidv7() as WorkflowRunId, beat: DateTime.Utc = now): WorkflowRun => ({
  id,
  job_id: jobId,
  status: "running",
  last_heartbeat: beat,
  error_message: null,
  created_at: now,
  updated_at: now
})
