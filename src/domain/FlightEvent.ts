/**
 * Flight Recorder events (R11, R12): one flat JSON object per event, the
 * envelope fields plus its type's payload fields, discriminated by `type`.
 *
 * Flat rather than `{ ...envelope, payload }` because several payload fields
 * are envelope fields made required for one type (`job_id` of a recovery,
 * `model_id` of an inference, `capability_id` of a capability action), and
 * the stores index those envelope columns straight from the event.
 *
 * Optional fields are absent or valid, never `null` (an absent key round-trips
 * exactly). Timestamps keep millisecond precision (see Timestamp.ts).
 * Unknown keys are rejected by the recorder (`onExcessProperty: "error"`), so
 * nothing beyond these schemas is ever stored (R14).
 */
import * as Schema from "effect/Schema"
import { Actor, type EventType } from "./EventRecord.js"
import { EventId, JobId, TraceId, WorkflowRunId } from "./Ids.js"
import { JobState } from "./JobState.js"
import { Timestamp } from "./Timestamp.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** A non-empty name, id or code chosen by the caller (model ids, capability ids, span ids). */
const Label = Schema.NonEmptyString.annotations({ message: () => "Expected a non-empty string" })

const NonNegativeInt = Schema.NonNegativeInt.annotations({ message: () => "Expected an integer ≥ 0" })

/**
 * A content digest: `sha256:` and 64 lowercase hex digits. A reference to
 * prompt or response text instead of the text itself (R14).
 */
export const ContentHash = Schema.String.pipe(
  Schema.pattern(/^sha256:[0-9a-f]{64}$/, { message: () => "Expected sha256: followed by 64 lowercase hex digits" })
).annotations({ identifier: "ContentHash" })

/** The envelope every event carries (R11), without `type`. */
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

/**
 * R9: a run (and its job) moved from `running` to `stalled` by startup
 * recovery. Only the system recovers runs.
 */
export const WorkflowRecoveryEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("workflow_recovery"),
  // A refinement, not `Schema.Literal("system")`: a literal would become a second
  // discriminator of the union and blur its errors; only `type` discriminates.
  actor: Actor.pipe(Schema.filter((actor): actor is "system" => actor === "system", {
    message: () => "workflow_recovery events are recorded by the system: expected actor system"
  })),
  workflow_run_id: WorkflowRunId,
  job_id: JobId,
  from_state: Schema.Literal("running"),
  to_state: Schema.Literal("stalled"),
  reason: Schema.String,
  /** The stale heartbeat that triggered recovery. */
  last_heartbeat_ts: Timestamp,
  threshold_secs: Schema.Positive.pipe(Schema.int()).annotations({ message: () => "Expected a positive integer" })
}).annotations({ identifier: "WorkflowRecoveryEvent" })

/** A capability check and its outcome (R15–R17). */
export const CapabilityActionEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("capability_action"),
  capability_id: Label,
  /** Who asked: a user, an agent or a service id. */
  actor_id: Label,
  job_id: JobId,
  decision_outcome: Schema.Literal("allow", "deny"),
  profile_id: optional(Label),
  reason: optional(Schema.String)
}).annotations({ identifier: "CapabilityActionEvent" })

/** Token counts of one model call. `total` is as reported by the model, not recomputed. */
export const TokenUsage = Schema.Struct({
  prompt: NonNegativeInt,
  completion: NonNegativeInt,
  total: NonNegativeInt
}).annotations({ identifier: "TokenUsage" })

/**
 * One model call. The prompt and response are referenced by hash;
 * `prompt_text`/`response_text` are raw content, kept only in debug mode
 * (the recorder replaces them by their hashes otherwise, R14).
 */
export const LlmInferenceEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("llm_inference"),
  model_id: Label,
  token_usage: TokenUsage,
  latency_ms: optional(NonNegativeInt),
  prompt_hash: optional(ContentHash),
  response_hash: optional(ContentHash),
  prompt_text: optional(Schema.String),
  response_text: optional(Schema.String)
}).annotations({ identifier: "LlmInferenceEvent" })

/** A job lifecycle change. `from_state` is null when the job was just created. */
export const SystemEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("system"),
  job_id: JobId,
  from_state: Schema.NullOr(JobState),
  to_state: JobState,
  reason: optional(Schema.String)
}).annotations({ identifier: "SystemEvent" })

/**
 * A command run in a terminal. The command line is metadata (redacted);
 * its `output` is raw content, kept only in debug mode (R14).
 */
export const TerminalCommandEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("terminal_command"),
  command: Label,
  exit_code: optional(Schema.Int),
  cwd: optional(Schema.String),
  duration_ms: optional(NonNegativeInt),
  output: optional(Schema.String)
}).annotations({ identifier: "TerminalCommandEvent" })

/** Something worth telling an operator: a code and a short message. */
export const DiagnosticEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("diagnostic"),
  severity: Schema.Literal("info", "warning", "error"),
  code: Label,
  message: Schema.String
}).annotations({ identifier: "DiagnosticEvent" })

/** A debug bundle was exported for a job. */
export const DebugBundleExportEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("debug_bundle_export"),
  bundle_id: Label,
  job_id: JobId,
  size_bytes: optional(NonNegativeInt)
}).annotations({ identifier: "DebugBundleExportEvent" })

/** A refused or detected breach of policy (e.g. an action outside the job's capabilities). */
export const SecurityViolationEvent = Schema.Struct({
  ...envelope,
  type: Schema.Literal("security_violation"),
  violation: Label,
  detail: optional(Schema.String)
}).annotations({ identifier: "SecurityViolationEvent" })

/** The schema of each event type, keyed by type: exactly the types of `EventTypes`. */
export const FlightEventSchemas = {
  workflow_recovery: WorkflowRecoveryEvent,
  capability_action: CapabilityActionEvent,
  llm_inference: LlmInferenceEvent,
  system: SystemEvent,
  terminal_command: TerminalCommandEvent,
  diagnostic: DiagnosticEvent,
  debug_bundle_export: DebugBundleExportEvent,
  security_violation: SecurityViolationEvent
} as const satisfies { readonly [T in EventType]: Schema.Schema.Any }

/** Any Flight Recorder event, discriminated by `type`. An unknown type is rejected. */
export const FlightEvent = Schema.Union(
  WorkflowRecoveryEvent,
  CapabilityActionEvent,
  LlmInferenceEvent,
  SystemEvent,
  TerminalCommandEvent,
  DiagnosticEvent,
  DebugBundleExportEvent,
  SecurityViolationEvent
).annotations({ identifier: "FlightEvent" })
export type FlightEvent = typeof FlightEvent.Type
/** An event as JSON: what callers hand to the recorder and what the store keeps as `body`. */
export type FlightEventInput = typeof FlightEvent.Encoded

/** The event of one type. */
export type FlightEventOf<T extends EventType> = Extract<FlightEvent, { readonly type: T }>
/** The JSON form of the event of one type. */
export type FlightEventInputOf<T extends EventType> = Extract<FlightEventInput, { readonly type: T }>

/** The types the union accepts, in declaration order (equal to `EventTypes`). */
export const FlightEventTypes: ReadonlyArray<EventType> = FlightEvent.members.map((member) => member.fields.type.literals[0])

/**
 * Fields holding raw content (prompts, responses, terminal output): stored
 * only when the recorder runs in debug mode (R14).
 */
export const RawContentFields: { readonly [T in EventType]?: ReadonlyArray<string> } = {
  llm_inference: ["prompt_text", "response_text"],
  terminal_command: ["output"]
}
