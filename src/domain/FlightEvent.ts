/**
 * Flight Recorder events (R11, R12): one flat JSON object per event, the
 * envelope fields plus its type's payload fields, discriminated by `type`.
 * The shapes of `terminal_command` (FR-EVT-001), `editor_edit` (FR-EVT-002), `diagnostic` (FR-EVT-003),
 * `debug_bundle_export` (FR-EVT-005), `llm_inference` (FR-EVT-006) and
 * `workflow_recovery` (FR-EVT-WF-RECOVERY) are the Master Spec's §11.5, field
 * for field (shared/reference/spec-11.5-flight-recorder.md).
 *
 * Flat rather than `{ ...envelope, payload }` because several payload fields
 * are envelope fields made required for one type (`trace_id` and `model_id`
 * of an inference, `capability_id` of a capability action), and the stores
 * index those envelope columns straight from the event.
 *
 * Optional fields: a field the spec types `T | null` accepts null and keeps
 * it; any other optional field is absent or valid, and `null` there (how the
 * reference's serde writes an absent `Option`) decodes as absent. Timestamps
 * keep millisecond precision (see Timestamp.ts). Unknown keys are rejected by
 * the recorder (`onExcessProperty: "error"`), so nothing beyond these schemas
 * is ever stored (R14).
 *
 * `trace_id` is optional on the envelope (the spec's has none) except for
 * `llm_inference`, which requires it; the recorder fills it in before storing
 * (the named job's trace id, else a fresh one), so every stored event has one.
 *
 * Names, ids and codes a caller chooses (`model_id`, `command`,
 * `capability_id`, `actor_id`, span ids, …) must hold more than whitespace:
 * the reference trims before its presence checks (`require_string`), and a
 * model id of spaces is a missing one (FR-EVT-006). Events stored before
 * that rule are still read back (`StoredFlightEvent`). `job_id` must be a
 * UUID on every event, narrower than the spec's `string`: it names a job of
 * this store, and the stores index it as one.
 */
import type { EventType } from "./EventRecord.js"
import { eventShapes, RecordedLabel } from "./flightEventShapes.js"

export { EventIdNotNil, TraceIdNotNil } from "./flightEventShapes.js"

/** Every event shape, each with its own schema; the comments on each are in flightEventShapes.ts. */
export const {
  ContentHash,
  WorkflowRecoveryEvent,
  CapabilityActionEvent,
  TokenUsage,
  LlmInferenceEvent,
  JobLifecycleEvent,
  GcSummaryEvent,
  SystemEvent,
  TerminalCommandEvent,
  EditorEditRange,
  EditorEditOp,
  EditorEditEvent,
  DiagnosticEvent,
  MissingEvidence,
  DebugBundleExportEvent,
  PolicyViolationEvent,
  FrEvt008SecurityViolationEvent,
  SecurityViolationEvent,
  FlightEventSchemas,
  FlightEvent
} = eventShapes(RecordedLabel)
export type FlightEvent = typeof FlightEvent.Type
/** An event as JSON: what callers hand to the recorder and what the store keeps as `body`. */
export type FlightEventInput = typeof FlightEvent.Encoded

/** The event of one type. */
export type FlightEventOf<T extends EventType> = Extract<FlightEvent, { readonly type: T }>
/** The JSON form of the event of one type. */
export type FlightEventInputOf<T extends EventType> = Extract<FlightEventInput, { readonly type: T }>

/** The types the union accepts, in declaration order (equal to `EventTypes`). */
export const FlightEventTypes: ReadonlyArray<EventType> = [
  ...new Set(FlightEvent.members.map((member) => member.fields.type.literals[0]))
]

/**
 * Fields holding raw content (prompts, responses, the reference's redacted
 * terminal output): stored only when the recorder runs in debug mode (R14).
 */
export const RawContentFields: { readonly [T in EventType]?: ReadonlyArray<string> } = {
  llm_inference: ["prompt_text", "response_text"],
  terminal_command: ["redacted_output"]
}

/** The raw content of each op of an `editor_edit` event, stored only in debug mode (R14). */
export const RawEditOpFields: ReadonlyArray<string> = ["insert_text", "delete_text"]
