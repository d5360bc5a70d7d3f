/** Flight Recorder test events: one valid event of every type, in canonical JSON form. */
import type { EventType } from "../../src/domain/EventRecord.js"
import type { FlightEventInput } from "../../src/domain/FlightEvent.js"

export const ids = {
  event: "0b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f60",
  trace: "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
  job: "3c9d1e2f-5a6b-4c7d-8e9f-a0b1c2d3e4f5",
  run: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
} as const

/** A fresh uuid (crypto.randomUUID is v4, what `Schema.UUID` accepts). */
export const uuid = (): string => crypto.randomUUID()

const envelope = (type: EventType, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_id: ids.event,
  timestamp: "2026-01-19T23:59:37.328Z",
  actor: "system",
  type,
  trace_id: ids.trace,
  ...overrides
})

/** One valid event of each type, using every optional field somewhere. */
export const validEvents = {
  workflow_recovery: envelope("workflow_recovery", {
    job_id: ids.job,
    workflow_run_id: ids.run,
    from_state: "running",
    to_state: "stalled",
    reason: "no heartbeat for more than 30s at startup",
    last_heartbeat_ts: "2026-01-19T23:58:00.000Z",
    threshold_secs: 30
  }),
  capability_action: envelope("capability_action", {
    actor: "agent",
    capability_id: "fs.read",
    actor_id: "agent:planner",
    job_id: ids.job,
    decision_outcome: "deny",
    policy_decision_id: "pd-42"
  }),
  llm_inference: envelope("llm_inference", {
    actor: "agent",
    model_id: "gpt-4o-mini",
    job_id: ids.job,
    workflow_run_id: ids.run,
    token_usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 },
    latency_ms: 812,
    prompt_hash: `sha256:${"a".repeat(64)}`,
    response_hash: `sha256:${"0123456789abcdef".repeat(4)}`,
    activity_span_id: "span-activity-1",
    session_span_id: "span-session-1"
  }),
  system: envelope("system", {
    job_id: ids.job,
    from_state: null,
    to_state: "queued",
    reason: "created"
  }),
  terminal_command: envelope("terminal_command", {
    actor: "human",
    session_id: "term-1",
    command: "ls -la",
    args: ["-la"],
    exit_code: 0,
    cwd: "/home/user",
    duration_ms: 14,
    stdout_ref: "chunk:stdout/1",
    stderr_ref: null,
    wsids: ["ws-1", "ws-2"]
  }),
  // No edit text: the recorder drops it outside debug mode (R14), and these events round-trip as given.
  editor_edit: envelope("editor_edit", {
    actor: "human",
    job_id: ids.job,
    editor_surface: "monaco",
    document_uri: "file:///work/notes.md",
    path: "notes.md",
    before_hash: `sha256:${"b".repeat(64)}`,
    after_hash: `sha256:${"c".repeat(64)}`,
    diff_hash: null,
    ops: [{ range: { startLine: 3, startColumn: 1, endLine: 3, endColumn: 9 } }, { range: { startLine: 7, startColumn: 4, endLine: 8, endColumn: 1 } }],
    wsids: ["ws-1"]
  }),
  diagnostic: envelope("diagnostic", {
    diagnostic_id: "diag-42",
    wsid: "ws-1",
    severity: "warning",
    source: "disk almost full",
    model_id: "none"
  }),
  debug_bundle_export: envelope("debug_bundle_export", {
    actor: "human",
    bundle_id: "5d1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f6a7b",
    job_id: ids.job,
    scope: "job",
    redaction_mode: "SAFE_DEFAULT",
    included_job_ids: [ids.job],
    event_count: 12,
    missing_evidence: [{ kind: "terminal_output", reason: "purged by retention" }]
  }),
  security_violation: envelope("security_violation", {
    violation: "capability_escalation",
    capability_id: "net.http",
    detail: "tried net.http under profile Reader"
  })
} as { readonly [T in EventType]: Readonly<Record<string, unknown>> }

/** A valid event of `type` with fresh ids (event, trace) and the given overrides. */
export const eventOf = (type: EventType, overrides: Record<string, unknown> = {}): FlightEventInput =>
  ({ ...validEvents[type], event_id: uuid(), ...overrides }) as unknown as FlightEventInput

/**
 * FR-EVT-008 as the reference's `handle_security_violation` writes it
 * (workflows.rs: a prompt injection found by a guard, the job poisoned).
 */
export const frEvt008Violation: Readonly<Record<string, unknown>> = envelope("security_violation", {
  job_id: ids.job,
  workflow_run_id: ids.run,
  violation_type: "prompt_injection",
  description: "instruction override in retrieved text",
  source_id: null,
  trigger: "ignore previous instructions",
  guard_name: "PromptInjectionGuard",
  offset: 128,
  context: "…please ignore previous instructions and…",
  action_taken: "poisoned",
  job_state_transition: "poisoned"
})

/** FR-EVT-008's event without `key`. */
const frEvt008Without = (key: string) => {
  const copy: Record<string, unknown> = { ...frEvt008Violation }
  delete copy[key]
  return copy
}

/** A copy of the valid event of `type` without `key`. */
export const without = (type: keyof typeof validEvents, key: string) => {
  const copy: Record<string, unknown> = { ...validEvents[type] }
  delete copy[key]
  return copy
}
/** A copy of the valid event of `type` with `fields` replaced. */
export const withField = (type: keyof typeof validEvents, fields: Record<string, unknown>) => ({ ...validEvents[type], ...fields })

/** A Janitor pass's summary: the other shape of a `system` event (HSK-GC-003). */
export const gcSummaryEvent: Readonly<Record<string, unknown>> = envelope("system", {
  event_type: "meta.gc_summary",
  event_name: "gc_summary",
  items_scanned: 3,
  items_pruned: 1,
  items_spared_pinned: 1,
  items_spared_window: 1,
  dry_run: false
})

/**
 * `system` events with bad fields, and the paths of every reason they must be
 * given: the problems of the shape the event is, none from the other shape's
 * fields (a lifecycle event was also told "event_type: is missing").
 */
export const badSystemEvents: ReadonlyArray<readonly [string, Record<string, unknown>, ReadonlyArray<string>]> = [
  ["a lifecycle change to an unknown state", withField("system", { to_state: "nope" }), ["to_state"]],
  ["a lifecycle change with a number for its reason", withField("system", { reason: 42 }), ["reason"]],
  ["a lifecycle change from an unknown state and without its job", { ...without("system", "job_id"), from_state: "nope" }, ["from_state", "job_id"]],
  ["a lifecycle change with trace_id undefined (refused, as every optional field given undefined is)", withField("system", { trace_id: undefined }), ["trace_id"]],
  ["a Janitor summary with a negative count", { ...gcSummaryEvent, items_pruned: -1 }, ["items_pruned"]],
  ["a Janitor summary without its dry_run", (({ dry_run: _, ...rest }) => rest)(gcSummaryEvent), ["dry_run"]]
]

/** [name, input, a path the reasons must name]. */
export const invalidEvents: ReadonlyArray<readonly [string, unknown, string]> = [
  ["not an object", "diagnostic", ""],
  ["null", null, ""],
  ["an array", [validEvents.diagnostic], ""],
  ["unknown type", withField("diagnostic", { type: "user_message" }), "type"],
  ["type not a string", withField("diagnostic", { type: 7 }), "type"],
  // Types match exactly, as the reference's event registry ids do (fr_event_registry.rs
  // lowercase_is_not_canonical, whitespace_is_rejected; tests/fr_event_registry_tests.rs
  // mt_198_typo_near_miss_is_rejected_not_silently_mapped): no case folding, no trimming, no near miss.
  ["type in another case", withField("diagnostic", { type: "Diagnostic" }), "type"],
  ["type padded with whitespace", withField("workflow_recovery", { type: " workflow_recovery" }), "type"],
  ["type a near miss", withField("workflow_recovery", { type: "workflow-recovery" }), "type"],
  ["missing type", without("diagnostic", "type"), "type"],
  ["trace_id not a uuid", withField("diagnostic", { trace_id: "trace-1" }), "trace_id"],
  ["missing event_id", without("system", "event_id"), "event_id"],
  ["event_id not a uuid", withField("system", { event_id: "evt-1" }), "event_id"],
  ["job_id not a uuid", withField("system", { job_id: "42" }), "job_id"],
  ["workflow_run_id not a uuid", withField("llm_inference", { workflow_run_id: "run-1" }), "workflow_run_id"],
  ["job_id an empty string", withField("diagnostic", { job_id: "" }), "job_id"],
  ["event_id the nil UUID", withField("diagnostic", { event_id: "00000000-0000-0000-0000-000000000000" }), "event_id"],
  ["trace_id the nil UUID", withField("diagnostic", { trace_id: "00000000-0000-0000-0000-000000000000" }), "trace_id"],
  ["unknown actor", withField("diagnostic", { actor: "robot" }), "actor"],
  ["missing timestamp", without("diagnostic", "timestamp"), "timestamp"],
  ["timestamp without offset", withField("diagnostic", { timestamp: "2026-01-19T23:59:37" }), "timestamp"],
  ["timestamp in SQL form", withField("diagnostic", { timestamp: "2026-01-19 23:59:37" }), "timestamp"],
  ["timestamp month 13", withField("diagnostic", { timestamp: "2026-13-01T00:00:00Z" }), "timestamp"],
  ["timestamp before 1970", withField("diagnostic", { timestamp: "1969-12-31T23:59:59Z" }), "timestamp"],
  ["timestamp as epoch number", withField("diagnostic", { timestamp: 1768867177328 }), "timestamp"],
  ["wsids not an array", withField("terminal_command", { wsids: "ws-1" }), "wsids"],
  ["wsids with an empty id", withField("terminal_command", { wsids: ["ws-1", ""] }), "wsids.1"],
  ["empty model_id on the envelope", withField("diagnostic", { model_id: "" }), "model_id"],
  ["excess property", withField("diagnostic", { stdout: "secret output" }), "stdout"],
  ["excess property of another type", withField("diagnostic", { token_usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }), "token_usage"],
  ["inline terminal output (refs only, FR-EVT-001)", withField("terminal_command", { output: "total 0" }), "output"],
  ["workflow_recovery with actor agent", withField("workflow_recovery", { actor: "agent" }), "actor"],
  ["workflow_recovery with actor human", withField("workflow_recovery", { actor: "human" }), "actor"],
  ...(["workflow_run_id", "job_id", "from_state", "to_state", "reason", "last_heartbeat_ts", "threshold_secs"] as const)
    .filter((field) => field !== "job_id")
    .map((field) => [`workflow_recovery missing ${field}`, without("workflow_recovery", field), field] as const),
  ["workflow_recovery from_state not running", withField("workflow_recovery", { from_state: "queued" }), "from_state"],
  ["workflow_recovery to_state not stalled", withField("workflow_recovery", { to_state: "failed" }), "to_state"],
  ["workflow_recovery last_heartbeat_ts not RFC 3339", withField("workflow_recovery", { last_heartbeat_ts: "yesterday" }), "last_heartbeat_ts"],
  ["workflow_recovery threshold_secs negative", withField("workflow_recovery", { threshold_secs: -1 }), "threshold_secs"],
  ["workflow_recovery threshold_secs not a number", withField("workflow_recovery", { threshold_secs: "30" }), "threshold_secs"],
  ["capability_action missing capability_id", without("capability_action", "capability_id"), "capability_id"],
  ["capability_action missing actor_id", without("capability_action", "actor_id"), "actor_id"],
  ["capability_action missing job_id (null is the way to say none)", without("capability_action", "job_id"), "job_id"],
  ["capability_action empty job_id", withField("capability_action", { job_id: "" }), "job_id"],
  ["capability_action outcome maybe", withField("capability_action", { decision_outcome: "maybe" }), "decision_outcome"],
  ["llm_inference without model_id", without("llm_inference", "model_id"), "model_id"],
  ["llm_inference without token_usage", without("llm_inference", "token_usage"), "token_usage"],
  ["llm_inference without trace_id", without("llm_inference", "trace_id"), "trace_id"],
  ["llm_inference negative prompt tokens", withField("llm_inference", { token_usage: { prompt_tokens: -1, completion_tokens: 0, total_tokens: 0 } }), "token_usage.prompt_tokens"],
  ["llm_inference fractional total", withField("llm_inference", { token_usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2.5 } }), "token_usage.total_tokens"],
  ["llm_inference token_usage missing completion_tokens", withField("llm_inference", { token_usage: { prompt_tokens: 1, total_tokens: 1 } }), "token_usage.completion_tokens"],
  ["llm_inference token_usage in the 0.1.0 names", withField("llm_inference", { token_usage: { prompt: 1, completion: 1, total: 2 } }), "token_usage.prompt_tokens"],
  ["llm_inference negative latency", withField("llm_inference", { latency_ms: -5 }), "latency_ms"],
  ["llm_inference infinite latency", withField("llm_inference", { latency_ms: Number.POSITIVE_INFINITY }), "latency_ms"],
  ["llm_inference empty prompt_hash", withField("llm_inference", { prompt_hash: "" }), "prompt_hash"],
  ["system missing job_id", without("system", "job_id"), "job_id"],
  ["system unknown to_state", withField("system", { to_state: "done" }), "to_state"],
  ["system missing from_state", without("system", "from_state"), "from_state"],
  ["terminal_command missing command", without("terminal_command", "command"), "command"],
  ["terminal_command missing session_id", without("terminal_command", "session_id"), "session_id"],
  ["terminal_command fractional exit_code", withField("terminal_command", { exit_code: 1.5 }), "exit_code"],
  ["diagnostic unknown severity", withField("diagnostic", { severity: "critical" }), "severity"],
  ["diagnostic missing diagnostic_id", without("diagnostic", "diagnostic_id"), "diagnostic_id"],
  ["debug_bundle_export missing bundle_id", without("debug_bundle_export", "bundle_id"), "bundle_id"],
  ["debug_bundle_export bundle_id not a uuid", withField("debug_bundle_export", { bundle_id: "bundle-7" }), "bundle_id"],
  ["debug_bundle_export missing scope", without("debug_bundle_export", "scope"), "scope"],
  ["debug_bundle_export unknown redaction_mode", withField("debug_bundle_export", { redaction_mode: "NONE" }), "redaction_mode"],
  ["debug_bundle_export negative event_count", withField("debug_bundle_export", { event_count: -1 }), "event_count"],
  ["security_violation missing violation", without("security_violation", "violation"), "violation"],
  ["security_violation FR-EVT-008 without guard_name", frEvt008Without("guard_name"), "guard_name"],
  ["security_violation FR-EVT-008 with a negative offset", { ...frEvt008Violation, offset: -1 }, "offset"]
]


/**
 * Caller text a library event must treat as the decode path does (R14):
 * U+0000, lone surrogates, secrets the default rules redact, NFD and a
 * ligature, text the tests' `erase` rule empties, the empty string, names of
 * only whitespace (refused as labels) and U+FEFF (not whitespace), oversize.
 */
export const hostileText: ReadonlyArray<string> = [
  "plain",
  "nul \u0000 inside",
  "lone \uD800 high surrogate",
  "lone \uDC00 low surrogate",
  "Authorization: Bearer abc.def.ghi",
  "key sk-abcdefghijklmnopqrstuvwx",
  "postgres://user:hunter2@db/x",
  "e\u0301 decomposed, \uFB01 ligature",
  "ERASE-ME",
  "",
  " \t\n",
  "\u00a0\u3000",
  "\ufeff",
  "x".repeat(5000)
]
