/**
 * The Flight Recorder event shapes (FlightEvent.ts says how they read), built
 * over a rule for the names, ids and codes a caller chooses (`Label`). Built
 * twice: with the recorder's rule (not empty, not only whitespace) for what
 * is recorded, and with the rule events were stored under before that
 * (not empty) for reading them back; everything else is the same.
 */
import * as Schema from "effect/Schema"
import { Actor, type EventType } from "./EventRecord.js"
import { EventId, JobId, TraceId, WorkflowRunId } from "./Ids.js"
import { JobState } from "./JobState.js"
import { JsonObject } from "./Json.js"
import { hasText } from "./Text.js"
import { Timestamp } from "./Timestamp.js"

/** An optional field; `null` (serde's absent `Option`) decodes as absent and is never written back. */
const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true, nullable: true })

/** An optional field the spec types `T | null`: absent, `null` or a value, each kept as given. */
const optionalOrNull = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(Schema.NullOr(schema), { exact: true })

const NonNegativeInt = Schema.NonNegativeInt.annotations({ message: () => "Expected an integer ≥ 0" })

/** A duration or threshold the spec types as `number`: any finite number ≥ 0, fractions included (the reference's `require_number`). */
const NonNegativeNumber = Schema.Number.pipe(Schema.finite(), Schema.nonNegative()).annotations({ message: () => "Expected a finite number ≥ 0" })

const NIL_UUID = "00000000-0000-0000-0000-000000000000"

/** An id that is not the nil UUID, which the reference refuses for event and trace ids. */
const notNil = <A extends string, I>(schema: Schema.Schema<A, I>, name: string) =>
  schema.pipe(Schema.filter((id) => id.toLowerCase() !== NIL_UUID, { message: () => `${name} must not be the nil UUID` }))

/** An event id: a UUID, never the nil UUID. */
export const EventIdNotNil = notNil(EventId, "event_id")

/** A trace id on an event: a UUID, never the nil UUID. */
export const TraceIdNotNil = notNil(TraceId, "trace_id")

/** Why a name is refused. */
export const labelMessage = "Expected a non-empty string, not only whitespace"

/** The recorder's rule for a name, id or code chosen by the caller (model ids, capability ids, span ids): not empty, not only whitespace. */
export const RecordedLabel = Schema.String.pipe(Schema.filter(hasText, { message: () => labelMessage }))

/** The rule events were recorded under until names of only whitespace were refused: non-empty. For reading them back. */
export const StoredLabel = Schema.NonEmptyString

/**
 * Which `system` shape `event` is meant as, so its problems are told as that
 * shape's alone: a job lifecycle change names from_state or to_state, a
 * Janitor pass's summary event_type or event_name. Undefined when it names
 * both or neither: either shape may be the one meant.
 */
export const systemShapeOf = (event: object): "lifecycle" | "summary" | undefined => {
  const lifecycle = "from_state" in event || "to_state" in event
  const summary = "event_type" in event || "event_name" in event
  return lifecycle === summary ? undefined : lifecycle ? "lifecycle" : "summary"
}

/**
 * Which `security_violation` shape `event` is meant as: FR-EVT-008's when it
 * names a `violation_type` and no `violation`, else the policy violation.
 */
export const securityShapeOf = (event: object): "frEvt008" | "policy" =>
  "violation_type" in event && !("violation" in event) ? "frEvt008" : "policy"

/** The event schemas with `Label` as the rule for caller-chosen names (`RecordedLabel` or `StoredLabel`). */
export const eventShapes = (Label: Schema.Schema<string>) => {
  /**
   * A content digest such as `sha256:` and 64 hex digits, or the reference's
   * bare hex: a reference to prompt or response text, not the text (R14). The
   * spec types the field as a string, so any name is accepted; the
   * recorder writes `sha256:` digests when it drops raw text.
   */
  const ContentHash = Label.annotations({ identifier: "ContentHash" })

  /** The envelope every event carries (R11, spec 11.5.1 `FlightRecorderEventBase`), without `type`. */
  const envelope = {
    event_id: EventIdNotNil,
    timestamp: Timestamp,
    actor: Actor,
    trace_id: optional(TraceIdNotNil),
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
   * FR-EVT-WF-RECOVERY (R9): a run moved from `running` to `stalled` by
   * startup recovery (HSK-WF-003). Only the system recovers runs.
   */
  const WorkflowRecoveryEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("workflow_recovery"),
    // A refinement, not `Schema.Literal("system")`: a literal would become a second
    // discriminator of the union and blur its errors; only `type` discriminates.
    // Its JSON Schema says so too: the refinement's own would be Actor's three (found by a conformance probe).
    actor: Actor.pipe(Schema.filter((actor): actor is "system" => actor === "system", {
      message: () => "workflow_recovery events are recorded by the system: expected actor system",
      jsonSchema: { type: "string", enum: ["system"] }
    })),
    workflow_run_id: WorkflowRunId,
    from_state: Schema.Literal("running"),
    to_state: Schema.Literal("stalled"),
    reason: Schema.String,
    /** The stale heartbeat that triggered recovery. */
    last_heartbeat_ts: Timestamp,
    threshold_secs: NonNegativeNumber
  }).annotations({ identifier: "WorkflowRecoveryEvent" })

  /** A capability check and its outcome (R15): the reference's four payload fields, no other (its validator refuses any). */
  const CapabilityActionEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("capability_action"),
    capability_id: Label,
    /** Who asked: a user, an agent or a service id. */
    actor_id: Label,
    /** Present, and null for a decision outside any job (the reference's `Option<String>`, `require_string_or_null_nonempty`). */
    job_id: Schema.NullOr(JobId),
    decision_outcome: Schema.Literal("allow", "deny")
  }).annotations({ identifier: "CapabilityActionEvent" })

  /** Token counts of one model call (FR-EVT-006). `total_tokens` is as reported, not recomputed. */
  const TokenUsage = Schema.Struct({
    prompt_tokens: NonNegativeInt,
    completion_tokens: NonNegativeInt,
    total_tokens: NonNegativeInt
  }).annotations({ identifier: "TokenUsage" })

  /**
   * FR-EVT-006: one model call. `trace_id` and `model_id` are required. The
   * prompt and response are referenced by hash; `prompt_text`/`response_text`
   * are raw content, our addition for debug mode only (the recorder replaces
   * them by their hashes otherwise, R14).
   */
  const LlmInferenceEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("llm_inference"),
    trace_id: TraceIdNotNil,
    model_id: Label,
    token_usage: TokenUsage,
    latency_ms: optionalOrNull(NonNegativeNumber),
    prompt_hash: optionalOrNull(ContentHash),
    response_hash: optionalOrNull(ContentHash),
    prompt_text: optional(Schema.String),
    response_text: optional(Schema.String)
  }).annotations({ identifier: "LlmInferenceEvent" })

  /** A job lifecycle change. `from_state` is null when the job was just created. */
  const JobLifecycleEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("system"),
    job_id: JobId,
    from_state: Schema.NullOr(JobState),
    to_state: JobState,
    reason: optional(Schema.String),
    /** Issue 15.1: the attempt the change belongs to (a failure's, or a retry's next one). */
    attempt: optional(Schema.Int.pipe(Schema.positive())),
    /** Issue 15.1/15.2: when a queued job becomes eligible (a retry's backoff, a scheduled submit). */
    run_after: optional(Timestamp)
  }).annotations({ identifier: "JobLifecycleEvent" })

  /**
   * HSK-GC-003: what one Janitor pass did, as the reference records it (a
   * `system` event whose payload is named `meta.gc_summary` / `gc_summary`,
   * storage/retention.rs): its job counts and whether it was a dry run. The
   * reference's artifact fields (`total_bytes_freed`, `gc_report_artifact`,
   * `deleted_artifacts`) are left out: there is no artifact store here. Ours
   * adds how many Flight Recorder events the pass's retention purged.
   */
  const GcSummaryEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("system"),
    event_type: Schema.Literal("meta.gc_summary"),
    event_name: Schema.Literal("gc_summary"),
    /** Jobs in a prunable state older than the cutoff that the pass looked at. */
    items_scanned: NonNegativeInt,
    items_pruned: NonNegativeInt,
    /** Old enough, but pinned (HSK-GC-002). */
    items_spared_pinned: NonNegativeInt,
    /** Old enough and unpinned, but among the newest kept (the keep-newest window). */
    items_spared_window: NonNegativeInt,
    dry_run: Schema.Boolean,
    /** Events the pass's Flight Recorder retention purged; absent when it ran none. */
    events_purged: optional(NonNegativeInt)
  }).annotations({ identifier: "GcSummaryEvent" })

  /** A `system` event: a job lifecycle change, or a Janitor pass's summary. */
  const SystemEvent = Schema.Union(JobLifecycleEvent, GcSummaryEvent).annotations({ identifier: "SystemEvent" })

  /**
   * FR-EVT-001: a command run in a terminal session. Its output is never
   * inline: `stdout_ref`/`stderr_ref` point at stored chunks. The reference's
   * own fields (flight_recorder/mod.rs `TerminalCommandEvent`, which its
   * validator requires in part: `timed_out`, `cancelled`, `truncated_bytes`)
   * are taken too; its `redacted_output` is raw content, kept only in debug
   * mode (R14).
   */
  const TerminalCommandEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("terminal_command"),
    session_id: Label,
    cwd: optionalOrNull(Schema.String),
    command: Label,
    args: optional(Schema.Array(Schema.String)),
    exit_code: optionalOrNull(Schema.Int),
    duration_ms: optionalOrNull(NonNegativeNumber),
    stdout_ref: optionalOrNull(Label),
    stderr_ref: optionalOrNull(Label),
    env_ref: optionalOrNull(Label),
    timed_out: optional(Schema.Boolean),
    cancelled: optional(Schema.Boolean),
    truncated_bytes: optional(NonNegativeInt),
    session_type: optional(Label),
    human_consent_obtained: optional(Schema.Boolean),
    capability_set: optional(Schema.Array(Label)),
    redaction_applied: optional(Schema.Boolean),
    redacted_output: optional(Schema.String)
  }).annotations({ identifier: "TerminalCommandEvent" })

  /**
   * A position range in an edited document, `startLine`/`startColumn` to
   * `endLine`/`endColumn` (the spec's names, Monaco's `IRange`): whole numbers
   * ≥ 0, the end not before the start.
   */
  const EditorEditRange = Schema.Struct({
    startLine: NonNegativeInt,
    startColumn: NonNegativeInt,
    endLine: NonNegativeInt,
    endColumn: NonNegativeInt
  }).pipe(Schema.filter((range) =>
    range.endLine > range.startLine || (range.endLine === range.startLine && range.endColumn >= range.startColumn) ||
    "Expected the range's end (endLine, endColumn) not before its start (startLine, startColumn)"
  )).annotations({ identifier: "EditorEditRange" })

  /**
   * One edit of FR-EVT-002. `insert_text`/`delete_text` are raw content: the
   * recorder drops them unless it runs in debug mode (R14; the spec: "MAY be
   * omitted or hashed/redacted by policy"); the event's hashes stand for them.
   */
  const EditorEditOp = Schema.Struct({
    range: EditorEditRange,
    insert_text: optional(Schema.String),
    delete_text: optional(Schema.String)
  }).annotations({ identifier: "EditorEditOp" })

  /** FR-EVT-002: an edit in an editor surface, content-addressed by hashes rather than text; as the reference writes it too. */
  const EditorEditEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("editor_edit"),
    editor_surface: Schema.Literal("monaco", "canvas", "sheet"),
    document_uri: optionalOrNull(Label),
    path: optionalOrNull(Label),
    before_hash: optionalOrNull(ContentHash),
    after_hash: optionalOrNull(ContentHash),
    diff_hash: optionalOrNull(ContentHash),
    ops: Schema.Array(EditorEditOp),
    /**
     * The reference's addition (api/workspaces.rs, an Atelier apply): the
     * suggestions the edit applied, each with its source job, trace and spans.
     * Kept as given, JSON objects under the event's size bound.
     */
    applied_suggestions: optional(Schema.Array(JsonObject))
  }).annotations({ identifier: "EditorEditEvent" })

  /** FR-EVT-003: links a trace to a Diagnostic by its id, without copying the Diagnostic. */
  const DiagnosticEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("diagnostic"),
    diagnostic_id: Label,
    wsid: optionalOrNull(Label),
    severity: optional(Schema.Literal("fatal", "error", "warning", "info", "hint")),
    source: optional(Schema.String)
  }).annotations({ identifier: "DiagnosticEvent" })

  /** One piece of evidence a debug bundle lacks, and why (FR-EVT-004, FR-EVT-005). */
  const MissingEvidence = Schema.Struct({ kind: Label, reason: Schema.String })

  /** FR-EVT-005: a debug bundle was exported. */
  const DebugBundleExportEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("debug_bundle_export"),
    bundle_id: Schema.UUID.annotations({ message: () => "Expected bundle_id to be a UUID" }),
    // The spec's four, and the reference's two more (bundles/schemas.rs `ScopeKind`), which its exporter records.
    scope: Schema.Literal("problem", "job", "workflow_run", "workflow_node_execution", "time_window", "workspace"),
    redaction_mode: Schema.Literal("SAFE_DEFAULT", "WORKSPACE", "FULL_LOCAL"),
    included_job_ids: optional(Schema.Array(Label)),
    included_diagnostic_ids: optional(Schema.Array(Label)),
    included_wsids: optional(Schema.Array(Label)),
    event_count: optional(NonNegativeInt),
    missing_evidence: optional(Schema.Array(MissingEvidence))
  }).annotations({ identifier: "DebugBundleExportEvent" })

  /** FR-EVT-008's optional fields (the reference's `FrEvt008SecurityViolation`). */
  const frEvt008Optional = {
    source_id: optionalOrNull(Schema.String),
    offset: optionalOrNull(NonNegativeInt),
    context: optionalOrNull(Schema.String),
    job_state_transition: optionalOrNull(Schema.String)
  }

  /** Ours: what `violation` was found, and an optional `detail`; FR-EVT-008's fields may come along. */
  const PolicyViolationEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("security_violation"),
    violation: Label,
    detail: optional(Schema.String),
    violation_type: optional(Label),
    description: optional(Schema.String),
    trigger: optional(Schema.String),
    guard_name: optional(Label),
    action_taken: optional(Label),
    ...frEvt008Optional
  }).annotations({ identifier: "PolicyViolationEvent" })

  /**
   * FR-EVT-008 as the reference writes it (an ACE validator's finding, e.g. a
   * prompt injection): `violation_type`, `description`, `trigger`,
   * `guard_name` and `action_taken` required.
   */
  const FrEvt008SecurityViolationEvent = Schema.Struct({
    ...envelope,
    type: Schema.Literal("security_violation"),
    violation_type: Label,
    description: Schema.String,
    trigger: Schema.String,
    guard_name: Label,
    action_taken: Label,
    ...frEvt008Optional
  }).annotations({ identifier: "FrEvt008SecurityViolationEvent" })

  /**
   * A refused or detected breach of policy: ours (`violation`, e.g. an action
   * outside the job's capabilities: what `ctx.securityViolation` records) or
   * FR-EVT-008's. Either may carry the other's optional fields.
   */
  const SecurityViolationEvent = Schema.Union(PolicyViolationEvent, FrEvt008SecurityViolationEvent)
    .annotations({ identifier: "SecurityViolationEvent" })

  /** The schema of each event type, keyed by type: exactly the types of `EventTypes`. */
  const FlightEventSchemas = {
    workflow_recovery: WorkflowRecoveryEvent,
    capability_action: CapabilityActionEvent,
    llm_inference: LlmInferenceEvent,
    system: SystemEvent,
    terminal_command: TerminalCommandEvent,
    editor_edit: EditorEditEvent,
    diagnostic: DiagnosticEvent,
    debug_bundle_export: DebugBundleExportEvent,
    security_violation: SecurityViolationEvent
  } as const satisfies { readonly [T in EventType]: Schema.Schema.Any }

  /** Any Flight Recorder event, discriminated by `type`. An unknown type is rejected. */
  const FlightEvent = Schema.Union(
    WorkflowRecoveryEvent,
    CapabilityActionEvent,
    LlmInferenceEvent,
    JobLifecycleEvent,
    GcSummaryEvent,
    TerminalCommandEvent,
    EditorEditEvent,
    DiagnosticEvent,
    DebugBundleExportEvent,
    PolicyViolationEvent,
    FrEvt008SecurityViolationEvent
  ).annotations({ identifier: "FlightEvent" })

  return {
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
  }
}
