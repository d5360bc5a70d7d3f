/**
 * Issue 12.3: the event shapes of Master Spec §11.5 (shared/reference/
 * spec-11.5-flight-recorder.md), type by type. Every spec-valid event is
 * accepted and stored exactly; each required field, left out, is refused
 * with HSK-400-INVALID-EVENT naming it. The `token_usage` names and the
 * `null` optionals are named cases of their own.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { EventRecord } from "../../src/domain/EventRecord.js"
import { InvalidEvent } from "../../src/internal/flight/Errors.js"
import { makePrepare } from "../../src/internal/flight/prepare.js"

const prepare = makePrepare()

const NIL = "00000000-0000-0000-0000-000000000000"
const JOB = "3c9d1e2f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
const RUN = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
const TRACE = "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"

/** FlightRecorderEventBase: the four required envelope fields. */
const base = (type: string, actor = "system") => ({
  type,
  event_id: "0b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f60",
  timestamp: "2026-01-19T23:59:37.328Z",
  actor
})

/** Every optional envelope field of FlightRecorderEventBase. */
const fullEnvelope = {
  job_id: JOB,
  model_id: "llama3.2",
  wsids: ["ws-1"],
  activity_span_id: "activity-1",
  session_span_id: "session-1",
  capability_id: "terminal.exec",
  policy_decision_id: "decision-1"
}

interface SpecCase {
  readonly name: string
  readonly event: Record<string, unknown>
  /** The fields the spec requires beyond the envelope's four. */
  readonly required: ReadonlyArray<string>
}

/** Spec-valid events: for each type, the smallest one and one with every optional field. */
const specEvents: ReadonlyArray<SpecCase> = [
  {
    name: "FR-EVT-001 terminal_command, required fields only",
    event: { ...base("terminal_command", "human"), session_id: "term-1", command: "cargo test" },
    required: ["session_id", "command"]
  },
  {
    name: "FR-EVT-001 terminal_command, every optional field (refs, not output)",
    event: {
      ...base("terminal_command", "agent"),
      ...fullEnvelope,
      session_id: "term-1",
      cwd: "/workspace",
      command: "cargo test --all",
      args: ["test", "--all"],
      exit_code: 101,
      duration_ms: 5400,
      stdout_ref: "artifact://stdout/1",
      stderr_ref: "artifact://stderr/1",
      env_ref: "artifact://env/1"
    },
    required: ["session_id", "command"]
  },
  {
    // What the reference's terminal records (terminal/mod.rs build_flight_recorder_event; its validator requires
    // timed_out, cancelled and truncated_bytes), its redacted_output absent as serde writes None.
    name: "FR-EVT-001 terminal_command as the reference writes it (timed_out, cancelled, truncated_bytes, session metadata)",
    event: {
      ...base("terminal_command", "agent"),
      job_id: JOB,
      model_id: "llama3.2",
      wsids: ["ws-1"],
      capability_id: "terminal.exec",
      session_id: "term-7",
      command: "cargo build",
      cwd: "/workspace",
      exit_code: 0,
      duration_ms: 1834,
      timed_out: false,
      cancelled: false,
      truncated_bytes: 0,
      stdout_ref: null,
      stderr_ref: null,
      session_type: "ai_job",
      human_consent_obtained: false,
      capability_set: ["terminal.exec", "fs.read"],
      redaction_applied: true
    },
    required: ["session_id", "command"]
  },
  {
    name: "FR-EVT-001 terminal_command with its `T | null` fields null (still running)",
    event: {
      ...base("terminal_command", "agent"),
      session_id: "term-1",
      cwd: null,
      command: "npm run watch",
      exit_code: null,
      duration_ms: null,
      stdout_ref: null,
      stderr_ref: null,
      env_ref: null
    },
    required: ["session_id", "command"]
  },
  ...(["monaco", "canvas", "sheet"] as const).map((editor_surface): SpecCase => ({
    name: `FR-EVT-002 editor_edit in ${editor_surface}, required fields only (no ops)`,
    event: { ...base("editor_edit", "human"), editor_surface, ops: [] },
    required: ["editor_surface", "ops"]
  })),
  {
    name: "FR-EVT-002 editor_edit, every optional field (hashes, no text)",
    event: {
      ...base("editor_edit", "agent"),
      ...fullEnvelope,
      editor_surface: "monaco",
      document_uri: "file:///workspace/src/main.rs",
      path: "src/main.rs",
      before_hash: `sha256:${"a".repeat(64)}`,
      after_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      diff_hash: `sha256:${"0123456789abcdef".repeat(4)}`,
      ops: [
        { range: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 } },
        { range: { startLine: 4, startColumn: 9, endLine: 6, endColumn: 2 } }
      ]
    },
    required: ["editor_surface", "ops", "ops.0.range", "ops.1.range.endColumn"]
  },
  {
    // What the reference records for an Atelier apply (api/workspaces.rs): bare hex hashes, path null, its applied_suggestions.
    name: "FR-EVT-002 editor_edit as the reference writes it, with applied_suggestions",
    event: {
      ...base("editor_edit", "human"),
      wsids: ["ws-1"],
      editor_surface: "monaco",
      document_uri: "hsk://documents/doc-1",
      path: null,
      before_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      after_hash: "a".repeat(64),
      diff_hash: "b".repeat(64),
      applied_suggestions: [{
        role_id: "editor",
        contract_id: "contract-1",
        suggestion_id: "s-1",
        source_job_id: JOB,
        source_trace_id: TRACE,
        source_model_id: "llama3.2",
        source_tool_id: null,
        protocol_id: "atelier-v1",
        evidence_refs: [],
        before_span: { start_line: 2, start_col: 0, end_line: 2, end_col: 12 },
        after_span: { start_line: 2, start_col: 0, end_line: 3, end_col: 4 }
      }],
      ops: [{ range: { startLine: 2, startColumn: 0, endLine: 2, endColumn: 12 } }]
    },
    required: ["editor_surface", "ops"]
  },
  {
    name: "FR-EVT-002 editor_edit with its `T | null` fields null (an untitled buffer)",
    event: {
      ...base("editor_edit", "human"),
      editor_surface: "sheet",
      document_uri: null,
      path: null,
      before_hash: null,
      after_hash: null,
      diff_hash: null,
      ops: [{ range: { startLine: 0, startColumn: 0, endLine: 0, endColumn: 3 } }]
    },
    required: ["editor_surface", "ops", "ops.0.range.startLine"]
  },
  {
    name: "FR-EVT-003 diagnostic, required fields only",
    event: { ...base("diagnostic"), diagnostic_id: "diag-1" },
    required: ["diagnostic_id"]
  },
  ...(["fatal", "error", "warning", "info", "hint"] as const).map((severity): SpecCase => ({
    name: `FR-EVT-003 diagnostic of severity ${severity}, every optional field`,
    event: { ...base("diagnostic"), ...fullEnvelope, diagnostic_id: "diag-2", wsid: "ws-1", severity, source: "rust-analyzer" },
    required: ["diagnostic_id"]
  })),
  {
    name: "FR-EVT-003 diagnostic with wsid null",
    event: { ...base("diagnostic"), diagnostic_id: "diag-3", wsid: null },
    required: ["diagnostic_id"]
  },
  ...(["problem", "job", "time_window", "workspace"] as const).map((scope): SpecCase => ({
    name: `FR-EVT-005 debug_bundle_export of scope ${scope}, required fields only`,
    event: { ...base("debug_bundle_export", "human"), bundle_id: "5d1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f6a7b", scope, redaction_mode: "SAFE_DEFAULT" },
    required: ["bundle_id", "scope", "redaction_mode"]
  })),
  ...(["workflow_run", "workflow_node_execution"] as const).map((scope): SpecCase => ({
    // The reference's exporter records these scopes too (bundles/schemas.rs ScopeKind), with job_id set to the bundle id.
    name: `FR-EVT-005 debug_bundle_export of the reference's scope ${scope}, as its exporter writes it`,
    event: {
      ...base("debug_bundle_export", "agent"),
      job_id: "5d1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f6a7b",
      bundle_id: "5d1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f6a7b",
      scope,
      redaction_mode: "WORKSPACE",
      included_job_ids: [JOB],
      included_diagnostic_ids: [],
      included_wsids: [],
      event_count: 0,
      missing_evidence: [{ kind: "events", reason: "purged by retention" }]
    },
    required: ["bundle_id", "scope", "redaction_mode"]
  })),
  ...(["SAFE_DEFAULT", "WORKSPACE", "FULL_LOCAL"] as const).map((redaction_mode): SpecCase => ({
    name: `FR-EVT-005 debug_bundle_export in ${redaction_mode} mode, every optional field`,
    event: {
      ...base("debug_bundle_export", "human"),
      ...fullEnvelope,
      bundle_id: "5d1f0a2b-7c3d-4e5f-8a9b-2c3d4e5f6a7b",
      scope: "problem",
      redaction_mode,
      included_job_ids: [JOB],
      included_diagnostic_ids: ["diag-1", "diag-2"],
      included_wsids: ["ws-1"],
      event_count: 42,
      missing_evidence: [{ kind: "terminal_output", reason: "purged by retention" }]
    },
    required: ["bundle_id", "scope", "redaction_mode"]
  })),
  {
    name: "FR-EVT-006 llm_inference, required fields only",
    event: {
      ...base("llm_inference", "agent"),
      trace_id: TRACE,
      model_id: "llama3.2",
      token_usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }
    },
    required: ["trace_id", "model_id", "token_usage", "token_usage.prompt_tokens", "token_usage.completion_tokens", "token_usage.total_tokens"]
  },
  {
    // The reference's own valid example (flight_recorder/mod.rs): the nullable fields sent as null.
    name: "FR-EVT-006 llm_inference with latency_ms, prompt_hash and response_hash null",
    event: {
      ...base("llm_inference", "agent"),
      trace_id: TRACE,
      model_id: "llama3.2",
      token_usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      latency_ms: null,
      prompt_hash: null,
      response_hash: null
    },
    required: ["trace_id", "model_id", "token_usage"]
  },
  {
    name: "FR-EVT-006 llm_inference, every optional field (a bare hex hash, as the reference computes it)",
    event: {
      ...base("llm_inference", "agent"),
      ...fullEnvelope,
      trace_id: TRACE,
      token_usage: { prompt_tokens: 1830, completion_tokens: 212, total_tokens: 2042 },
      latency_ms: 912,
      prompt_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      response_hash: `sha256:${"0123456789abcdef".repeat(4)}`
    },
    required: ["trace_id", "model_id", "token_usage"]
  },
  {
    name: "FR-EVT-WF-RECOVERY workflow_recovery without job_id (the spec's job_id?)",
    event: {
      ...base("workflow_recovery"),
      workflow_run_id: RUN,
      from_state: "running",
      to_state: "stalled",
      reason: "stalled (startup recovery: heartbeat timeout)",
      last_heartbeat_ts: "2026-01-19T23:58:00+00:00",
      threshold_secs: 30
    },
    required: ["workflow_run_id", "from_state", "to_state", "reason", "last_heartbeat_ts", "threshold_secs"]
  },
  {
    name: "FR-EVT-WF-RECOVERY workflow_recovery with job_id",
    event: {
      ...base("workflow_recovery"),
      job_id: JOB,
      workflow_run_id: RUN,
      from_state: "running",
      to_state: "stalled",
      reason: "stalled (startup recovery: heartbeat timeout)",
      last_heartbeat_ts: "2026-01-19T23:58:00.000Z",
      threshold_secs: 30
    },
    required: ["workflow_run_id", "last_heartbeat_ts", "threshold_secs"]
  }
]

/** The event without the field at `path` (`a.b` for a nested one). */
const without = (event: Record<string, unknown>, path: string): Record<string, unknown> => {
  const [head = "", ...rest] = path.split(".")
  // An array stays an array (`ops.0.range`).
  const copy: Record<string, unknown> = Array.isArray(event) ? [...event] as unknown as Record<string, unknown> : { ...event }
  if (rest.length === 0) delete copy[head]
  else copy[head] = without(copy[head] as Record<string, unknown>, rest.join("."))
  return copy
}

/** The stored body an accepted event must have: the event itself, canonical, with its trace id filled in. */
const canonical = (event: Record<string, unknown>, traceId: unknown) => ({
  ...event,
  timestamp: "2026-01-19T23:59:37.328Z",
  ...(typeof event["last_heartbeat_ts"] === "string" ? { last_heartbeat_ts: "2026-01-19T23:58:00.000Z" } : {}),
  trace_id: traceId
})

const refusal = (input: unknown) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(prepare(input))
    assert.instanceOf(error, InvalidEvent)
    if (!(error instanceof InvalidEvent)) return assert.fail("expected InvalidEvent")
    assert.strictEqual(error.code, "HSK-400-INVALID-EVENT")
    return error
  })

const assertRefused = (input: unknown, path: string) =>
  Effect.map(refusal(input), (error) =>
    assert.isTrue(error.reasons.some((reason) => reason.path === path), `expected a reason at ${path}: ${error.message}`))

describe("issue 12.3 spec 11.5 events are accepted exactly as the spec writes them", () => {
  for (const { name, event, required } of specEvents) {
    it.effect(`issue 12.3 accepted and stored as given: ${name}`, () =>
      Effect.gen(function*() {
        const record = yield* prepare(event)
        assert.isTrue(Schema.is(EventRecord)(record))
        assert.strictEqual(record.type, event["type"])
        // Every field kept as sent, `null`s included; a trace id only added when none was sent.
        assert.deepStrictEqual<unknown>(record.body, canonical(event, event["trace_id"] ?? record.trace_id))
        assert.strictEqual(record.job_id, (event["job_id"] as string | undefined) ?? null)
      }))

    for (const field of ["type", "event_id", "timestamp", "actor", ...required]) {
      it.effect(`issue 12.3 HSK-400 when ${field} is missing: ${name}`, () => assertRefused(without(event, field), field))
    }
  }
})

describe("issue 12.3 named cases", () => {
  const llm = specEvents.find((c) => c.name.startsWith("FR-EVT-006 llm_inference, required"))?.event ?? {}
  const terminal = specEvents[0]?.event ?? {}

  it.effect("issue 12.3 token_usage is {prompt_tokens, completion_tokens, total_tokens}; the old {prompt, completion, total} is refused", () =>
    Effect.gen(function*() {
      const record = yield* prepare(llm)
      assert.deepStrictEqual(record.body["token_usage"], { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 })
      const old = yield* refusal({ ...llm, token_usage: { prompt: 10, completion: 5, total: 15 } })
      const paths = old.reasons.map((reason) => reason.path)
      for (const path of ["token_usage.prompt_tokens", "token_usage.completion_tokens", "token_usage.total_tokens", "token_usage.prompt"]) {
        assert.include(paths, path)
      }
      yield* assertRefused({ ...llm, token_usage: { prompt_tokens: 10, completion_tokens: 5 } }, "token_usage.total_tokens")
      yield* assertRefused({ ...llm, token_usage: { prompt_tokens: -1, completion_tokens: 5, total_tokens: 4 } }, "token_usage.prompt_tokens")
    }))

  it.effect("issue 12.3 llm_inference must carry trace_id and model_id, on the event itself", () =>
    Effect.gen(function*() {
      yield* assertRefused(without(llm, "trace_id"), "trace_id")
      yield* assertRefused(without(llm, "model_id"), "model_id")
      yield* assertRefused({ ...llm, model_id: "" }, "model_id")
      yield* assertRefused({ ...llm, trace_id: null }, "trace_id")
    }))

  it.effect("issue 12.3 `T | null` optionals accept null and keep it; other optionals take null as absent", () =>
    Effect.gen(function*() {
      const withNulls = yield* prepare({ ...llm, latency_ms: null, prompt_hash: null, response_hash: null })
      assert.deepInclude(withNulls.body, { latency_ms: null, prompt_hash: null, response_hash: null })
      // Envelope optionals are `field?: T`: serde's null for an absent Option reads as absent.
      const envelopeNulls = yield* prepare({
        ...terminal, job_id: null, model_id: null, wsids: null, activity_span_id: null, session_span_id: null,
        capability_id: null, policy_decision_id: null, args: null
      })
      for (const field of ["job_id", "model_id", "wsids", "activity_span_id", "session_span_id", "capability_id", "policy_decision_id", "args"]) {
        assert.notProperty(envelopeNulls.body, field)
      }
      assert.isNull(envelopeNulls.job_id)
      // A non-null value must still be valid.
      yield* assertRefused({ ...llm, latency_ms: "fast" }, "latency_ms")
      yield* assertRefused({ ...terminal, exit_code: 1.5 }, "exit_code")
    }))

  it.effect("issue 12.3 the nil UUID is refused for event_id and trace_id", () =>
    Effect.gen(function*() {
      yield* assertRefused({ ...llm, event_id: NIL }, "event_id")
      yield* assertRefused({ ...llm, trace_id: NIL }, "trace_id")
      yield* assertRefused({ ...terminal, trace_id: NIL }, "trace_id")
      yield* assertRefused({ ...terminal, event_id: NIL.toUpperCase() }, "event_id")
    }))

  it.effect("issue 12.3 an event other than llm_inference sent without trace_id gets a fresh one (never nil)", () =>
    Effect.gen(function*() {
      const a = yield* prepare(terminal)
      const b = yield* prepare({ ...terminal, event_id: "1b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f60" })
      assert.match(a.trace_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.notStrictEqual(a.trace_id, NIL)
      assert.notStrictEqual(a.trace_id, b.trace_id)
      assert.strictEqual(a.body["trace_id"], a.trace_id, "the stored body carries the trace id it was given")
    }))

  it.effect("R12 FR-EVT-002 an editor_edit is refused, naming the field, for a surface the spec does not list, a range missing a bound, not whole numbers ≥ 0, or ending before it starts", () =>
    Effect.gen(function*() {
      const edit = specEvents.find((c) => c.name.startsWith("FR-EVT-002 editor_edit, every optional"))?.event ?? {}
      const range = { startLine: 2, startColumn: 5, endLine: 2, endColumn: 7 }
      yield* assertRefused({ ...edit, editor_surface: "vscode" }, "editor_surface")
      yield* assertRefused({ ...edit, ops: "one edit" }, "ops")
      yield* assertRefused({ ...edit, ops: [{ insert_text: "x" }] }, "ops.0.range")
      yield* assertRefused({ ...edit, ops: [{ range: { ...range, endColumn: undefined } }] }, "ops.0.range.endColumn")
      yield* assertRefused({ ...edit, ops: [{ range }, { range: { ...range, startLine: -1 } }] }, "ops.1.range.startLine")
      yield* assertRefused({ ...edit, ops: [{ range: { ...range, startColumn: 1.5 } }] }, "ops.0.range.startColumn")
      yield* assertRefused({ ...edit, ops: [{ range: { ...range, endLine: 1 } }] }, "ops.0.range")
      yield* assertRefused({ ...edit, ops: [{ range: { ...range, endColumn: 4 } }] }, "ops.0.range")
      yield* assertRefused({ ...edit, ops: [{ range, insert_text: 7 }] }, "ops.0.insert_text")
      yield* assertRefused({ ...edit, ops: [{ range, replace_text: "x" }] }, "ops.0.replace_text")
      yield* assertRefused({ ...edit, path: "" }, "path")
      yield* assertRefused({ ...edit, before_hash: "" }, "before_hash")
      yield* assertRefused({ ...edit, applied_suggestions: ["s-1"] }, "applied_suggestions.0")
    }))

  it.effect("R12 the reference's terminal fields keep their types: flags are booleans, truncated_bytes a whole number ≥ 0", () =>
    Effect.gen(function*() {
      yield* assertRefused({ ...terminal, timed_out: "no" }, "timed_out")
      yield* assertRefused({ ...terminal, truncated_bytes: -1 }, "truncated_bytes")
      yield* assertRefused({ ...terminal, truncated_bytes: 1.5 }, "truncated_bytes")
      yield* assertRefused({ ...terminal, capability_set: [""] }, "capability_set.0")
    }))

  it.effect("R12 FR-EVT-006 a name of only whitespace is a missing one (the reference trims before require_string): refused wherever a name is, naming the field", () =>
    Effect.gen(function*() {
      const find = (prefix: string) => specEvents.find((c) => c.name.startsWith(prefix))?.event ?? {}
      const diagnostic = find("FR-EVT-003 diagnostic, required")
      const bundle = find("FR-EVT-005 debug_bundle_export of scope job")
      const capability = {
        ...base("capability_action"), job_id: JOB, capability_id: "terminal.exec", actor_id: "agent-7", decision_outcome: "allow"
      }
      yield* prepare(capability)
      // Unicode White_Space, as Rust's `trim` has it: ASCII, no-break, em and ideographic spaces, line separator.
      for (const blank of [" ", "\t\r\n", "\u00a0", "\u2003\u3000", "\u2028", "\u0085"]) {
        yield* assertRefused({ ...llm, model_id: blank }, "model_id")
        yield* assertRefused({ ...llm, prompt_hash: blank }, "prompt_hash")
        yield* assertRefused({ ...terminal, command: blank }, "command")
        yield* assertRefused({ ...terminal, session_id: blank }, "session_id")
        yield* assertRefused({ ...terminal, wsids: ["ws-1", blank] }, "wsids.1")
        yield* assertRefused({ ...capability, actor_id: blank }, "actor_id")
        yield* assertRefused({ ...capability, capability_id: blank }, "capability_id")
        yield* assertRefused({ ...diagnostic, diagnostic_id: blank }, "diagnostic_id")
        yield* assertRefused({ ...bundle, missing_evidence: [{ kind: blank, reason: "no logs" }] }, "missing_evidence.0.kind")
      }
      const reasons = (yield* refusal({ ...llm, model_id: "   " })).reasons
      assert.deepStrictEqual(reasons, [{ path: "model_id", message: "Expected a non-empty string, not only whitespace" }])
      // A name is kept as given, spaces around it included; U+FEFF is not whitespace to Rust's trim (JS's trim removes it).
      assert.strictEqual((yield* prepare({ ...llm, model_id: " llama3.2 " })).body["model_id"], " llama3.2 ")
      assert.strictEqual((yield* prepare({ ...llm, model_id: "\ufeff" })).body["model_id"], "\ufeff")
    }))

  it.effect("issue 12.3 terminal output is never inline (FR-EVT-001): an output field is refused", () =>
    assertRefused({ ...terminal, output: "total 0" }, "output"))

  it.effect("issue 12.3 workflow_recovery stays the system's (actor system only)", () =>
    assertRefused({ ...specEvents.find((c) => c.name.includes("without job_id"))?.event, actor: "agent" }, "actor"))
})
