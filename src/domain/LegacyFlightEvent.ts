/**
 * Events stored before the shapes followed spec 11.5 (release 0.1.0), as
 * they were written. The event log is append-only, so stored events are never
 * rewritten; reading accepts both shapes instead (issue 12.3):
 *
 * - an old `llm_inference` (`token_usage: { prompt, completion, total }`)
 *   reads back in the current shape, renamed and nothing lost;
 * - an old `terminal_command` (no `session_id`, inline `output`),
 *   `diagnostic` (`code`, `message`, no `diagnostic_id`) or
 *   `debug_bundle_export` (no `scope` or `redaction_mode`) lacks what the
 *   spec requires, so it reads back as written, typed `LegacyFlightEvent`,
 *   rather than with invented values.
 *
 * And a `capability_action` written by 0.1.0 up to this release, which also
 * named the decision's `profile_id` and a denial's `reason` (beyond the
 * reference's four fields, R12), reads back as written.
 *
 * Only reading accepts these: the recorder records the current shapes alone.
 * `workflow_recovery`, `system` and `security_violation` events of 0.1.0 are
 * valid current events already.
 */
import * as Schema from "effect/Schema"
import { Actor } from "./EventRecord.js"
import { eventShapes, StoredLabel } from "./flightEventShapes.js"
import { EventId, JobId, TraceId, WorkflowRunId } from "./Ids.js"
import { Timestamp } from "./Timestamp.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })
const Label = StoredLabel
/** The current shapes under the name rule events were stored with: a name of only whitespace reads back as stored. */
export const StoredEventShapes = eventShapes(StoredLabel)
const NonNegativeInt = Schema.NonNegativeInt

/** The 0.1.0 envelope: `trace_id` required, optional fields absent or valid. */
const envelope = {
  event_id: EventId,
  timestamp: Timestamp,
  actor: Actor,
  trace_id: TraceId,
  job_id: optional(JobId),
  workflow_run_id: optional(WorkflowRunId),
  model_id: optional(Label),
  wsids: optional(Schema.Array(Label)),
  activity_span_id: optional(Label),
  session_span_id: optional(Label),
  capability_id: optional(Label),
  policy_decision_id: optional(Label)
}

const LegacyLlmInferenceShape = Schema.Struct({
  ...envelope,
  type: Schema.Literal("llm_inference"),
  model_id: Label,
  token_usage: Schema.Struct({ prompt: NonNegativeInt, completion: NonNegativeInt, total: NonNegativeInt }),
  latency_ms: optional(NonNegativeInt),
  prompt_hash: optional(Label),
  response_hash: optional(Label),
  prompt_text: optional(Schema.String),
  response_text: optional(Schema.String)
})

/** A 0.1.0 `llm_inference`, read back in the current shape (`token_usage` renamed). */
export const LegacyLlmInferenceEvent = Schema.transform(LegacyLlmInferenceShape, Schema.typeSchema(StoredEventShapes.LlmInferenceEvent), {
  strict: true,
  decode: ({ token_usage, ...rest }) => ({
    ...rest,
    token_usage: { prompt_tokens: token_usage.prompt, completion_tokens: token_usage.completion, total_tokens: token_usage.total }
  }),
  encode: ({ token_usage, latency_ms, prompt_hash, response_hash, trace_id, ...rest }) => ({
    ...rest,
    trace_id,
    token_usage: { prompt: token_usage.prompt_tokens, completion: token_usage.completion_tokens, total: token_usage.total_tokens },
    ...(latency_ms === undefined || latency_ms === null ? {} : { latency_ms }),
    ...(prompt_hash === undefined || prompt_hash === null ? {} : { prompt_hash }),
    ...(response_hash === undefined || response_hash === null ? {} : { response_hash })
  })
}).annotations({ identifier: "LegacyLlmInferenceEvent" })

/** A 0.1.0 `terminal_command`: no session id; `output` was raw content kept in debug mode. */
export const LegacyTerminalCommandEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("terminal_command"),
  command: Label,
  exit_code: optional(Schema.Int),
  cwd: optional(Schema.String),
  duration_ms: optional(NonNegativeInt),
  output: optional(Schema.String)
}).annotations({ identifier: "LegacyTerminalCommandEvent" })

/** A 0.1.0 `diagnostic`: a code and a message instead of a Diagnostic id. */
export const LegacyDiagnosticEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("diagnostic"),
  severity: Schema.Literal("info", "warning", "error"),
  code: Label,
  message: Schema.String
}).annotations({ identifier: "LegacyDiagnosticEvent" })

/** A 0.1.0 `debug_bundle_export`: one job's bundle, without scope or redaction mode. */
export const LegacyDebugBundleExportEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("debug_bundle_export"),
  bundle_id: Label,
  job_id: JobId,
  size_bytes: optional(NonNegativeInt)
}).annotations({ identifier: "LegacyDebugBundleExportEvent" })

/** A `capability_action` as written before it carried the reference's four fields alone: with the profile decided under and a denial's reason. */
export const LegacyCapabilityActionEvent = Schema.Struct({
  ...StoredEventShapes.CapabilityActionEvent.fields,
  profile_id: optional(Label),
  reason: optional(Schema.String)
}).annotations({ identifier: "LegacyCapabilityActionEvent" })

/** A stored event that predates spec 11.5's shapes and has no faithful current form. */
export const LegacyFlightEvent = Schema.Union(
  LegacyTerminalCommandEvent,
  LegacyDiagnosticEvent,
  LegacyDebugBundleExportEvent
).annotations({ identifier: "LegacyFlightEvent" })
export type LegacyFlightEvent = typeof LegacyFlightEvent.Type

/**
 * Any event as stored: the current shapes first, then the 0.1.0 ones. What
 * `FlightRecorder.list` decodes bodies with. The earlier `capability_action`
 * comes before all: it reads a current one alike, and a union encodes with
 * the first member that fits, which after the current shape would drop an
 * earlier event's `profile_id` and `reason` from every listing's JSON.
 */
export const StoredFlightEvent = Schema.Union(
  LegacyCapabilityActionEvent,
  ...StoredEventShapes.FlightEvent.members,
  LegacyLlmInferenceEvent,
  LegacyTerminalCommandEvent,
  LegacyDiagnosticEvent,
  LegacyDebugBundleExportEvent
).annotations({ identifier: "StoredFlightEvent" })
export type StoredFlightEvent = typeof StoredFlightEvent.Type
