/**
 * Identifiers. Each is a UUID string with a brand, so a job id can't be passed
 * where a workflow run id is expected.
 */
import * as Schema from "effect/Schema"

const uuid = <B extends string>(brand: B) =>
  Schema.UUID.pipe(Schema.brand(brand)).annotations({
    identifier: brand,
    message: () => `Expected ${brand} to be a UUID (8-4-4-4-12 hex digits)`
  })

/** A job's logical identity, stable across retries (R6c). */
export const JobId = uuid("JobId")
export type JobId = typeof JobId.Type

/** Correlates a job with its Flight Recorder events (R5). */
export const TraceId = uuid("TraceId")
export type TraceId = typeof TraceId.Type

/** One execution attempt of a job (R6c). */
export const WorkflowRunId = uuid("WorkflowRunId")
export type WorkflowRunId = typeof WorkflowRunId.Type

/** One node execution inside a workflow run (HSK-WF-001). */
export const NodeExecutionId = uuid("NodeExecutionId")
export type NodeExecutionId = typeof NodeExecutionId.Type

/** A Flight Recorder event. */
export const EventId = uuid("EventId")
export type EventId = typeof EventId.Type
