/**
 * The Flight Recorder events that job lifecycle code writes. Built as plain
 * objects and handed to `FlightRecorder.prepare`, which validates them against
 * their schema before anything is written.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { AiJob } from "../domain/AiJob.js"
import { uuidv7 } from "../domain/uuidv7.js"
import type { JobState } from "../domain/JobState.js"
import type { WorkflowRun } from "../domain/WorkflowRun.js"
import type { Decision } from "../Capabilities.js"

const envelope = (actor: "human" | "agent" | "system", type: string, traceId: string) =>
  Effect.map(DateTime.now, (now) => ({
    event_id: uuidv7(),
    timestamp: DateTime.formatIso(now),
    actor,
    type,
    trace_id: traceId
  }))

/** A `system` event for one lifecycle change of a job (`from` is null at creation). */
export const lifecycleEvent = (options: {
  readonly job: Pick<AiJob, "job_id" | "trace_id">
  readonly from: JobState | null
  readonly to: JobState
  readonly workflow_run_id?: string | null
  readonly reason?: string
  readonly actor?: "human" | "agent" | "system"
}) =>
  Effect.map(envelope(options.actor ?? "system", "system", options.job.trace_id), (base) => ({
    ...base,
    job_id: options.job.job_id,
    ...(options.workflow_run_id ? { workflow_run_id: options.workflow_run_id } : {}),
    from_state: options.from,
    to_state: options.to,
    ...(options.reason ? { reason: options.reason } : {})
  }))

/** A `capability_action` event recording one allow/deny decision (R15). */
export const capabilityEvent = (options: {
  readonly job_id: string
  readonly trace_id: string
  readonly profile_id: string
  readonly decision: Decision
  readonly actor_id: string
}) =>
  Effect.map(envelope("system", "capability_action", options.trace_id), (base) => ({
    ...base,
    job_id: options.job_id,
    capability_id: options.decision.capability_id,
    actor_id: options.actor_id,
    decision_outcome: options.decision.outcome,
    profile_id: options.profile_id
  }))

/** The `workflow_recovery` event of R9 for one run moved to `stalled`. */
export const recoveryEvent = (options: {
  readonly run: WorkflowRun
  readonly trace_id: string
  readonly threshold_secs: number
}) =>
  Effect.map(envelope("system", "workflow_recovery", options.trace_id), (base) => ({
    ...base,
    job_id: options.run.job_id,
    workflow_run_id: options.run.id,
    from_state: "running",
    to_state: "stalled",
    reason: `no heartbeat for more than ${options.threshold_secs}s at startup (HSK-WF-003)`,
    last_heartbeat_ts: DateTime.formatIso(options.run.last_heartbeat),
    threshold_secs: options.threshold_secs
  }))
