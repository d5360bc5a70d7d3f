/**
 * The public decoders under fuzz, each with valid example input, the valid
 * alternatives of its fields (to make near misses from), and an oracle: what
 * a correct answer to an input is.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { nestedDeeperThan } from "../../src/domain/depth.js"
import { AiJob, EntityRef, JobRequest, NewAiJob, PlannedOperation } from "../../src/domain/AiJob.js"
import { decodeWith } from "../../src/domain/decode.js"
import { EventTypes } from "../../src/domain/EventRecord.js"
import { FlightEvent } from "../../src/domain/FlightEvent.js"
import { JobKinds } from "../../src/domain/JobKind.js"
import { JobKind } from "../../src/domain/JobKind.js"
import { JobMetrics, MetricNames } from "../../src/domain/JobMetrics.js"
import { AccessMode, AccessModes, JobState, JobStates, SafetyMode, SafetyModes } from "../../src/domain/JobState.js"
import { NodeExecution, WorkflowRun } from "../../src/domain/WorkflowRun.js"
import type { FlightRecorder } from "../../src/FlightRecorder.js"
import { parseDatabaseUrl } from "../../src/store/DatabaseUrl.js"
import { validEvents } from "../flight/fixtures.js"

/** One decoder under test: how to call it and how to judge its answer. */
export interface Decoder {
  readonly name: string
  /** Valid input; the fuzz mutates it (a non-object base is used as a string to mutate). */
  readonly base: unknown
  /** Valid values per field, for near misses. */
  readonly valid: Readonly<Record<string, ReadonlyArray<unknown>>>
  readonly decode: (input: unknown) => Effect.Effect<unknown, unknown>
  /** The error tags a refusal may carry. */
  readonly errorTags: ReadonlyArray<string>
  /** Why a success is wrong for this input, or null when it is right. */
  readonly judgeSuccess: (input: unknown, value: unknown) => string | null
  /** Why a refusal is wrong for this input (it was valid), or null. */
  readonly judgeFailure: (input: unknown) => string | null
  /**
   * Inputs that hit a bug already pinned by its own failing test: counted
   * apart, so the fuzz keeps looking for other problems meanwhile.
   */
  readonly knownBug?: (input: unknown) => boolean
}

const UUIDS = ["0b7e5d1c-3f5a-4c2e-9a47-1d2c3b4a5f60", "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "018f2c3d-4e5f-7a6b-8c9d-0e1f2a3b4c5d"]
const TIMES = ["2026-01-19T23:59:37.328Z", "1970-01-01T00:00:00.000Z", "2026-01-19T23:59:37+02:00", "9999-12-31T23:59:59.999Z"]

/** A literal set: exactly the valid strings decode, to themselves (or their canonical form). */
const literal = <A extends string, I extends string>(name: string, schema: Schema.Schema<A, I>, accepted: ReadonlyArray<string>, canonical: (s: string) => string = (s) => s): Decoder => ({
  name,
  base: accepted[0],
  valid: { value: accepted },
  decode: decodeWith(schema, name),
  errorTags: ["DecodeFailure"],
  judgeSuccess: (input, value) =>
    typeof input === "string" && accepted.includes(input) && value === canonical(input) ? null : `accepted ${JSON.stringify(input)} as ${JSON.stringify(value)}`,
  judgeFailure: (input) => typeof input === "string" && accepted.includes(input) ? `refused the valid ${input}` : null
})

/**
 * A struct: a success must be a value of the schema's type that survives an
 * encode/decode round trip; the unchanged valid base must succeed.
 */
const struct = <A, I>(name: string, schema: Schema.Schema<A, I>, base: I, valid: Decoder["valid"]): Decoder => {
  const is = Schema.is(Schema.typeSchema(schema))
  const encode = Schema.encodeEither(schema)
  const decodeAgain = Schema.decodeUnknownEither(schema)
  return {
    name,
    base,
    valid,
    decode: decodeWith(schema, name),
    errorTags: ["DecodeFailure"],
    judgeSuccess: (_input, value) => {
      if (!is(value)) return "the decoded value is not of the schema's type"
      const encoded = encode(value as A)
      if (Either.isLeft(encoded)) return `the decoded value does not encode: ${encoded.left.message}`
      const again = decodeAgain(encoded.right)
      if (Either.isLeft(again)) return `the encoded value does not decode again: ${again.left.message.slice(0, 300)}`
      const reencoded = encode(again.right)
      if (Either.isLeft(reencoded) || JSON.stringify(reencoded.right) !== JSON.stringify(encoded.right)) return "the decoded value does not round-trip"
      return null
    },
    judgeFailure: (input) => input === base ? "refused the valid base input" : null
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** JobMetrics has an exact oracle: an object whose present metric fields are integers in range. */
const metrics: Decoder = {
  name: "JobMetrics",
  base: { duration_ms: 12, total_tokens: 3 },
  valid: Object.fromEntries(MetricNames.map((name) => [name, [0, 1, 4_294_967_295, ...(name === "duration_ms" ? [Number.MAX_SAFE_INTEGER] : [])]])),
  decode: decodeWith(JobMetrics, "JobMetrics"),
  errorTags: ["DecodeFailure"],
  judgeSuccess: (input, value) => {
    if (!isRecord(input) || !(value instanceof JobMetrics)) return "accepted a non-object"
    for (const name of MetricNames) {
      const given = Object.prototype.hasOwnProperty.call(input, name) ? input[name] : 0
      const max = name === "duration_ms" ? Number.MAX_SAFE_INTEGER : 4_294_967_295
      if (typeof given !== "number" || !Number.isInteger(given) || given < 0 || given > max) return `accepted ${name} = ${String(given)}`
      if (value[name] !== given) return `${name} decoded to ${value[name]}, given ${given}`
    }
    return null
  },
  judgeFailure: (input) => {
    if (!isRecord(input)) return null
    // Every decoder refuses input nested deeper than MAX_DEPTH before decoding, even in fields it would ignore.
    if (nestedDeeperThan(input)) return null
    const ok = MetricNames.every((name) => {
      if (!Object.prototype.hasOwnProperty.call(input, name)) return true
      const v = input[name]
      const max = name === "duration_ms" ? Number.MAX_SAFE_INTEGER : 4_294_967_295
      return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max
    })
    return ok ? "refused valid metrics" : null
  }
}

const entity = { entity_id: "doc-1", entity_kind: "document" }
const operation = { op_type: "read", target: entity, description: "read it" }
const newJob = {
  job_kind: "doc_summarize",
  protocol_id: "hsk.demo.v1",
  profile_id: "tester",
  capability_profile_id: "Analyst",
  access_mode: "analysis_only",
  safety_mode: "normal",
  entity_refs: [entity],
  planned_operations: [operation],
  job_inputs: { text: "hello" },
  status_reason: "",
  is_pinned: false,
  job_id: UUIDS[0],
  trace_id: UUIDS[1]
}
const jobFields = {
  job_kind: [...JobKinds, "term_exec"],
  access_mode: AccessModes,
  safety_mode: SafetyModes,
  state: JobStates,
  job_id: UUIDS,
  trace_id: UUIDS,
  workflow_run_id: [null, ...UUIDS],
  entity_refs: [[], [entity]],
  planned_operations: [[], [operation]],
  is_pinned: [true, false],
  job_inputs: [null, { a: [1, "x", null] }],
  job_outputs: [null, "done"],
  created_at: TIMES,
  updated_at: TIMES,
  metrics: [{}, { duration_ms: 5 }],
  error_message: [null, "boom"]
}
const aiJob = {
  ...newJob,
  workflow_run_id: UUIDS[2],
  state: "running",
  metrics: Schema.encodeSync(JobMetrics)(JobMetrics.zero),
  error_message: null,
  job_outputs: null,
  created_at: TIMES[0],
  updated_at: TIMES[0],
  attempt: 1,
  max_attempts: 3,
  run_after: TIMES[0],
  priority: 0
}
const run = { id: UUIDS[0], job_id: UUIDS[1], status: "running", last_heartbeat: TIMES[0], error_message: null, created_at: TIMES[0], updated_at: TIMES[0] }
const node = {
  id: UUIDS[0],
  workflow_run_id: UUIDS[1],
  node_id: "step-1",
  node_type: "llm",
  status: "completed",
  sequence: 0,
  input_payload: { prompt: "x" },
  output_payload: null,
  error_message: null,
  started_at: TIMES[0],
  finished_at: TIMES[0]
}

/** Every public decoder but the recorder's (which needs the service, see `recorderDecoder`). */
export const decoders: ReadonlyArray<Decoder> = [
  literal("JobKind", JobKind, [...JobKinds, "term_exec"], (s) => s === "term_exec" ? "terminal_exec" : s),
  literal("JobState", JobState, JobStates),
  literal("AccessMode", AccessMode, AccessModes),
  literal("SafetyMode", SafetyMode, SafetyModes),
  metrics,
  struct("EntityRef", EntityRef, entity, { entity_id: ["a", "doc-1"], entity_kind: ["document", "x"] }),
  struct("PlannedOperation", PlannedOperation, operation as typeof PlannedOperation.Encoded, { op_type: ["read", "write", "plan", "execute"], target: [entity], description: ["", "x"] }),
  struct("NewAiJob", NewAiJob, newJob as typeof NewAiJob.Encoded, jobFields),
  struct("JobRequest", JobRequest, newJob as typeof JobRequest.Encoded, jobFields),
  struct("AiJob", AiJob, aiJob as typeof AiJob.Encoded, jobFields),
  struct("WorkflowRun", WorkflowRun, run as typeof WorkflowRun.Encoded, { id: UUIDS, job_id: UUIDS, status: JobStates, last_heartbeat: TIMES, created_at: TIMES, updated_at: TIMES, error_message: [null, "x"] }),
  struct("NodeExecution", NodeExecution, node as typeof NodeExecution.Encoded, {
    status: ["running", "completed", "failed", "cancelled"],
    sequence: [0, 1, 2 ** 31],
    started_at: TIMES,
    finished_at: [null, ...TIMES],
    input_payload: [null, [1, 2]],
    node_id: ["a"],
    node_type: ["llm"]
  })
]

/** `Storage.parseDatabaseUrl` (strings only: that is its signature). */
export const databaseUrlDecoder: Decoder = {
  name: "Storage.parseDatabaseUrl",
  base: "postgres://user:pw@127.0.0.1:5432/db",
  valid: { value: ["postgres://user:pw@127.0.0.1:5432/db", "postgresql://h/db", "sqlite:jobs.db", "sqlite::memory:", "./data/handshake.db", "sqlite://tmp/x.db"] },
  decode: (input) => typeof input === "string" ? Effect.suspend(() => parseDatabaseUrl(input)) : Effect.fail({ _tag: "NotAString" }),
  errorTags: ["UnsupportedDatabaseUrl", "NotAString"],
  judgeSuccess: (input, value) => {
    const text = String(input).trim()
    const target = value as { dialect: string; url?: string; filename?: string }
    if (target.dialect === "pg") {
      if (!/^postgres(ql)?:\/\//i.test(text) || target.url !== text) return `took ${JSON.stringify(input)} for PostgreSQL`
      try {
        new URL(text)
      } catch {
        return `took the unparseable ${JSON.stringify(input)} for PostgreSQL`
      }
      return null
    }
    if (target.dialect !== "sqlite" || target.filename === undefined || target.filename === "") return `bad target ${JSON.stringify(value)}`
    if (/^postgres(ql)?:\/\//i.test(text)) return `took the PostgreSQL URL ${JSON.stringify(input)} for SQLite`
    return null
  },
  judgeFailure: (input) => typeof input === "string" && /^(postgres(ql)?:\/\/[a-z0-9]+(:\d+)?\/\w+|sqlite:\w+\.db)$/i.test(input) ? `refused ${input}` : null
}

/** `FlightRecorder.prepare` on the FlightEvent union: a record whose body is a valid event, or InvalidEvent / EventTooLarge. */
export const recorderDecoder = (recorder: FlightRecorder["Type"]): Decoder => {
  const strict = Schema.decodeUnknownEither(FlightEvent, { errors: "all", onExcessProperty: "error" })
  const valid: Record<string, Array<unknown>> = { type: [...EventTypes], actor: ["human", "agent", "system"] }
  for (const event of Object.values(validEvents)) {
    for (const [key, value] of Object.entries(event)) (valid[key] ??= []).push(value)
  }
  return {
    name: "FlightRecorder.prepare",
    base: validEvents.system,
    valid,
    decode: recorder.prepare,
    errorTags: ["InvalidEvent", "EventTooLarge"],
    judgeSuccess: (_input, value) => {
      const record = value as { event_id: string; type: string; trace_id: string; body: Record<string, unknown> }
      const body = strict(record.body)
      if (Either.isLeft(body)) return `stored body is not a valid event: ${body.left.message.slice(0, 300)}`
      if (record.event_id !== body.right.event_id || record.type !== body.right.type || record.trace_id !== body.right.trace_id) return "record columns differ from the body"
      return null
    },
    judgeFailure: (input) => Object.values(validEvents).includes(input as Record<string, unknown>) ? "refused a valid event" : null,
  }
}
