/** Workflow runs and their node executions (R8, HSK-WF-001). */
import * as Schema from "effect/Schema"
import { JobId, NodeExecutionId, WorkflowRunId } from "./Ids.js"
import { JobState, JobStates } from "./JobState.js"
import { Json } from "./Json.js"
import { NonEmptyText, Text } from "./Text.js"
import { Timestamp } from "./Timestamp.js"

/** One execution attempt of a job. A retry or resume creates a new one (R6c). */
export const WorkflowRun = Schema.Struct({
  id: WorkflowRunId,
  job_id: JobId,
  status: JobState,
  last_heartbeat: Timestamp,
  error_message: Schema.NullOr(Text),
  created_at: Timestamp,
  updated_at: Timestamp
}).annotations({ identifier: "WorkflowRun" })
export type WorkflowRun = typeof WorkflowRun.Type

/**
 * The status of a node execution: any of the ten job states. The reference
 * types a node's status as its `JobState` and writes more than the four a
 * node usually passes through (its security-violation path marks the running
 * nodes `poisoned`; others write `completed_with_issues`, `stalled`, ...), so
 * every one of them must upgrade and read back.
 */
export const NodeStatus = Schema.Literal(...JobStates).annotations({
  identifier: "NodeStatus",
  message: () => ({ message: `Expected one of the node statuses ${JobStates.join(", ")}`, override: true })
})
export type NodeStatus = typeof NodeStatus.Type

/** How a node execution can end: any status but `queued` and `running`. */
export type NodeEndStatus = Exclude<NodeStatus, "queued" | "running">

/**
 * Whether a node given this status has finished, so `finishNode` stamps its
 * `finished_at`. A node awaiting validation or a user is paused, not
 * finished: its `finished_at` stays as it was, as the reference's
 * `update_workflow_node_execution` keeps it (stamped only for `completed`,
 * `completed_with_issues`, `failed`, `cancelled`, `stalled`, `poisoned`).
 */
export const nodeFinishes = (status: NodeEndStatus): boolean =>
  status !== "awaiting_validation" && status !== "awaiting_user"

/** One node of a workflow run, with its payloads, in sequence order. */
export const NodeExecution = Schema.Struct({
  id: NodeExecutionId,
  workflow_run_id: WorkflowRunId,
  node_id: NonEmptyText,
  node_type: NonEmptyText,
  status: NodeStatus,
  sequence: Schema.NonNegativeInt,
  input_payload: Schema.NullOr(Json),
  output_payload: Schema.NullOr(Json),
  error_message: Schema.NullOr(Text),
  started_at: Timestamp,
  finished_at: Schema.NullOr(Timestamp)
}).annotations({ identifier: "NodeExecution" })
export type NodeExecution = typeof NodeExecution.Type

/**
 * A node execution for a summary view (R14: no unbounded output inline,
 * `JobStore.listNodeSummaries`): each payload inline only when its stored
 * JSON text is at most the reader's bound; a larger one is null, its size in
 * `input_payload_bytes` / `output_payload_bytes` (null when the payload is
 * inline or absent), and `JobStore.listNodes` reads it in full.
 */
export const NodeSummary = Schema.Struct({
  ...NodeExecution.fields,
  input_payload_bytes: Schema.NullOr(Schema.NonNegativeInt),
  output_payload_bytes: Schema.NullOr(Schema.NonNegativeInt)
}).annotations({ identifier: "NodeSummary" })
export type NodeSummary = typeof NodeSummary.Type
