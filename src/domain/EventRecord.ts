/**
 * A Flight Recorder event as storage sees it: the envelope columns a store
 * indexes, plus the whole validated event as a JSON object.
 *
 * The FlightRecorder turns a typed event into a record (validate, normalise,
 * redact); stores persist records and hand them back untouched.
 */
import * as Schema from "effect/Schema"
import { EventId, JobId, TraceId, WorkflowRunId } from "./Ids.js"
import { JsonObject } from "./Json.js"
import { Timestamp } from "./Timestamp.js"

/** Who caused an event (R11). */
export const Actor = Schema.Literal("human", "agent", "system").annotations({
  identifier: "Actor",
  message: () => ({ message: "Expected one of the actors human, agent, system", override: true })
})
export type Actor = typeof Actor.Type

/** The event types this library records (R12). */
export const EventTypes = [
  "workflow_recovery",
  "capability_action",
  "llm_inference",
  "system",
  "terminal_command",
  "editor_edit",
  "diagnostic",
  "debug_bundle_export",
  "security_violation"
] as const
export const EventType = Schema.Literal(...EventTypes).annotations({
  identifier: "EventType",
  message: () => ({ message: `Expected one of the event types ${EventTypes.join(", ")}`, override: true })
})
export type EventType = typeof EventType.Type

/** One stored event: indexed envelope fields and the full event body. */
export const EventRecord = Schema.Struct({
  event_id: EventId,
  timestamp: Timestamp,
  actor: Actor,
  type: EventType,
  trace_id: TraceId,
  job_id: Schema.NullOr(JobId),
  workflow_run_id: Schema.NullOr(WorkflowRunId),
  /** The whole event, envelope included, as encoded JSON. */
  body: JsonObject
}).annotations({ identifier: "EventRecord" })
export type EventRecord = typeof EventRecord.Type
