import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import {
  AccessMode, AiJob, DecodeFailure, decodeWith, IllegalTransition, NewAiJob, NodeExecution, SafetyMode, Timestamp,
  WorkflowRun
} from "../../src/index.js"

const validJob = {
  job_id: "0b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f60",
  trace_id: "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
  workflow_run_id: null,
  job_kind: "term_exec",
  state: "queued",
  protocol_id: "hsk.terminal.v1",
  profile_id: "default",
  capability_profile_id: "Operator",
  access_mode: "analysis_only",
  safety_mode: "strict",
  entity_refs: [{ entity_id: "doc-1", entity_kind: "document" }],
  planned_operations: [{ op_type: "read", target: { entity_id: "doc-1", entity_kind: "document" } }],
  metrics: {},
  status_reason: "",
  error_message: null,
  job_inputs: { command: "ls" },
  job_outputs: null,
  is_pinned: false,
  created_at: "2026-01-19T23:59:37.328Z",
  updated_at: "2026-01-19T23:59:37.328+00:00",
  attempt: 1,
  max_attempts: 3,
  run_after: "2026-01-19T23:59:37.328Z",
  priority: 0
}

describe("R5 AiJob", () => {
  it("R5 issue 12.2 a planned operation's description written as null (serde's absent Option) decodes as absent and encodes without it", () => {
    const withNull = { ...validJob, planned_operations: [{ op_type: "write", target: { entity_id: "doc-1", entity_kind: "document" }, description: null }] }
    const job = Either.getOrThrow(Schema.decodeUnknownEither(AiJob)(withNull))
    assert.deepStrictEqual(job.planned_operations, [{ op_type: "write", target: { entity_id: "doc-1", entity_kind: "document" } }])
    assert.isFalse("description" in (job.planned_operations[0] ?? {}))
    const encoded = Either.getOrThrow(Schema.encodeEither(AiJob)(job))
    assert.deepStrictEqual(encoded.planned_operations, [{ op_type: "write", target: { entity_id: "doc-1", entity_kind: "document" } }])
    // A present description is kept; anything but text or null is still refused.
    const described = { ...validJob, planned_operations: [{ op_type: "read", target: { entity_id: "d", entity_kind: "k" }, description: "why" }] }
    assert.strictEqual(Either.getOrThrow(Schema.decodeUnknownEither(AiJob)(described)).planned_operations[0]?.description, "why")
    const numbered = { ...validJob, planned_operations: [{ op_type: "read", target: { entity_id: "d", entity_kind: "k" }, description: 7 }] }
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(AiJob)(numbered)))
  })

  it("R5 decodes a job, normalising the kind alias and zeroing metrics", () => {
    const job = Either.getOrThrow(Schema.decodeUnknownEither(AiJob)(validJob))
    assert.strictEqual(job.job_kind, "terminal_exec")
    assert.strictEqual(job.metrics.total_tokens, 0)
    const encoded = Either.getOrThrow(Schema.encodeEither(AiJob)(job))
    assert.strictEqual(encoded.job_kind, "terminal_exec")
    assert.strictEqual(encoded.updated_at, "2026-01-19T23:59:37.328Z")
  })

  it.prop("R5 decode(encode(x)) = x for AiJob", [AiJob], ([job]) => {
    const encoded = Either.getOrThrow(Schema.encodeEither(AiJob)(job))
    const decoded = Either.getOrThrow(Schema.decodeUnknownEither(AiJob)(JSON.parse(JSON.stringify(encoded))))
    assert.isTrue(Schema.equivalence(AiJob)(decoded, job))
  }, { fastCheck: { numRuns: 1000 } })

  it.prop("R8 decode(encode(x)) = x for WorkflowRun and NodeExecution", [WorkflowRun, NodeExecution], ([run, node]) => {
    const run2 = Either.getOrThrow(Schema.decodeUnknownEither(WorkflowRun)(Either.getOrThrow(Schema.encodeEither(WorkflowRun)(run))))
    assert.isTrue(Schema.equivalence(WorkflowRun)(run2, run))
    const node2 = Either.getOrThrow(Schema.decodeUnknownEither(NodeExecution)(Either.getOrThrow(Schema.encodeEither(NodeExecution)(node))))
    assert.isTrue(Schema.equivalence(NodeExecution)(node2, node))
  }, { fastCheck: { numRuns: 300 } })

  const badJobs: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
    ["missing trace_id", { trace_id: undefined }],
    ["trace_id not a uuid", { trace_id: "trace-1" }],
    ["unknown kind", { job_kind: "doc_test" }],
    ["unknown state", { state: "done" }],
    ["null metrics", { metrics: null }],
    ["bad access mode", { access_mode: "apply" }],
    ["bad safety mode", { safety_mode: "lenient" }],
    ["empty entity id", { entity_refs: [{ entity_id: "", entity_kind: "document" }] }],
    ["bad op type", { planned_operations: [{ op_type: "delete", target: { entity_id: "a", entity_kind: "b" } }] }],
    ["sqlite-style timestamp", { created_at: "2026-01-19 23:59:37" }],
    ["is_pinned as integer", { is_pinned: 1 }],
    ["NaN in inputs", { job_inputs: { n: Number.NaN } }],
    // Would vanish silently when copied (it sets the prototype instead): refused.
    ["U+0000 in protocol_id (PostgreSQL cannot store it)", { protocol_id: "hsk\u0000v1" }],
    ["U+0000 inside a JSON payload", { job_inputs: { text: "a\u0000b" } }],
    ["a __proto__ key in inputs", { job_inputs: JSON.parse('{"a": {"__proto__": {"polluted": true}}}') }],
    // Their content is not in their own keys: they would be stored as {} (a Buffer as {"0": …}).
    ["a Date in inputs", { job_inputs: { at: new Date(0) } }],
    ["a Map in inputs", { job_inputs: { m: new Map([["a", 1]]) } }],
    ["a Set in inputs", { job_inputs: [new Set([1])] }],
    ["a Buffer in inputs", { job_inputs: { b: Buffer.from("hi") } }],
    ["a boxed Number in inputs", { job_inputs: { n: new Number(5) } }],
    ["a boxed String in inputs", { job_inputs: { s: new String("ab") } }],
    ["a boxed Boolean in inputs", { job_inputs: { b: new Boolean(false) } }],
    ["an Error in inputs", { job_inputs: { e: new Error("boom") } }]
  ]

  it.each(badJobs)("R5 rejects a job with %s", (_label, patch) => {
    assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(AiJob)({ ...validJob, ...patch })))
  })

  it.each([["analysis_only"], ["preview_only"], ["apply_scoped"]])("R3 access mode %s", (mode) => {
    assert.isTrue(Schema.is(AccessMode)(mode))
  })

  it.each([["strict"], ["normal"], ["experimental"]])("R3 safety mode %s", (mode) => {
    assert.isTrue(Schema.is(SafetyMode)(mode))
  })

  it("R5 a protocol or profile id is 1 to 256 characters, counted as code points (JSON Schema's maxLength), not UTF-16 units", () => {
    // The names a caller gives (NewAiJob; a stored job reads any storable text).
    const decode = Schema.decodeUnknownEither(NewAiJob)
    const validJob = { job_kind: "doc_edit", protocol_id: "p", profile_id: "p", capability_profile_id: "Coder", access_mode: "preview_only", safety_mode: "normal" }
    for (const name of ["x".repeat(256), "😀".repeat(256), "é".normalize("NFD").repeat(128)]) {
      for (const field of ["protocol_id", "profile_id", "capability_profile_id"]) {
        assert.isTrue(Either.isRight(decode({ ...validJob, [field]: name })), `${field}: ${name.length} units kept`)
      }
    }
    for (const name of ["x".repeat(257), "😀".repeat(257)]) {
      const refused = decode({ ...validJob, protocol_id: name })
      assert.isTrue(Either.isLeft(refused), `${[...name].length} characters refused`)
      if (Either.isLeft(refused)) assert.include(DecodeFailure.fromParseError("AiJob", refused.left).message, "at most 256 characters")
    }
  })

  it("R5 a protocol or profile id within 256 characters as given but longer in NFC, the form stored (200 x U+0958, a composition exclusion: 400 in NFC), is refused saying the bound is on the NFC form and how long the name is there", () => {
    const decode = Schema.decodeUnknownEither(NewAiJob)
    const validJob = { job_kind: "doc_edit", protocol_id: "p", profile_id: "p", capability_profile_id: "Coder", access_mode: "preview_only", safety_mode: "normal" }
    const name = "\u0958".repeat(200)
    assert.strictEqual([...name.normalize("NFC")].length, 400)
    for (const field of ["protocol_id", "profile_id", "capability_profile_id"]) {
      const refused = decode({ ...validJob, [field]: name })
      assert.deepStrictEqual(
        Either.isLeft(refused) ? DecodeFailure.fromParseError("NewAiJob", refused.left).issues : "accepted",
        [{
          path: field,
          message: "Expected a string at most 256 characters (code points) long once NFC-normalised, the form it is stored in (this name is 400)"
        }]
      )
    }
  })

  it("Timestamp refuses text that is not RFC 3339", () => {
    for (const text of ["2026-01-19 23:59:37", "2026-01-19", "yesterday", "2026-13-01T00:00:00Z", "2026-02-30T23:59:37Z", "2025-02-29T00:00:00Z", "2026-01-19T24:00:00Z", "2026-01-19T23:60:00Z", "2026-01-19T23:59:60Z"]) {
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Timestamp)(text)), text)
    }
  })
})

describe("domain errors", () => {
  it.effect("DecodeFailure names what is wrong inside a nullable or optional field, not also that it is not null", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeWith(NewAiJob, "NewAiJob")({
        job_kind: "doc_summarize",
        protocol_id: "p",
        profile_id: "p",
        capability_profile_id: "Analyst",
        access_mode: "analysis_only",
        safety_mode: "strict",
        job_inputs: { text: "a\u0000b" }
      }))
      assert.deepStrictEqual(error.issues.map((i) => i.path), ["job_inputs.text"])
      assert.notInclude(error.message, "Expected null")
      // Alone, such an issue is what there is to say: kept.
      const alone = yield* Effect.flip(decodeWith(Schema.Null, "n")("x"))
      assert.deepStrictEqual(alone.issues.map((i) => i.message), ["Expected null, actual \"x\""])
    }))

  it.effect("DecodeFailure lists every problem with its path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeWith(NewAiJob, "NewAiJob")({
        job_kind: "doc_test",
        protocol_id: "p",
        profile_id: "p",
        capability_profile_id: "Analyst",
        access_mode: "everything",
        safety_mode: "strict"
      }))
      assert.instanceOf(error, DecodeFailure)
      assert.strictEqual(error._tag, "DecodeFailure")
      assert.deepStrictEqual(error.issues.map((i) => i.path).sort(), ["access_mode", "job_kind"])
      assert.include(error.message, "Invalid NewAiJob")
      assert.include(error.message, "job_kind: Expected one of the job kinds doc_edit")
      assert.include(error.message, "access_mode: Expected one of the access modes analysis_only")
    }))

  it("IllegalTransition names the job and both states", () => {
    const error = new IllegalTransition({ job_id: "j1", from: "completed", to: "running" })
    assert.strictEqual(error._tag, "IllegalTransition")
    assert.strictEqual(error.message, "Job j1 cannot go from completed to running (only a job that is queued, stalled or awaiting_user can go to running)")
  })

  it("NewAiJob applies its defaults", () => {
    const job = Either.getOrThrow(Schema.decodeUnknownEither(NewAiJob)({
      job_kind: "doc_edit", protocol_id: "p", profile_id: "p", capability_profile_id: "Coder",
      access_mode: "preview_only", safety_mode: "normal"
    }))
    assert.deepStrictEqual(job.entity_refs, [])
    assert.strictEqual(job.job_inputs, null)
    assert.strictEqual(job.is_pinned, false)
  })
})
