/**
 * The brief's promise — the behaviour a demanding user expects, the same on
 * SQLite and on PostgreSQL — checked differentially: generated sequences of
 * public operations (Jobs, FlightRecorder, Recovery, Janitor, the JobStore's
 * reads) run against a fresh SQLite file and a fresh PostgreSQL database,
 * each under its own TestClock moved the same way and a Random seeded alike,
 * and what a user observes is compared step by step: every answer (its value,
 * or its error's tag and fields), then the whole state read back. Generated
 * ids differ from store to store, so each id is replaced by its order of first
 * appearance (`id#n`); cursors are compared decoded, with their ids so
 * replaced. Timestamps are compared as they are: on both stores they come
 * from the Clock.
 *
 * Field order is compared (it shows in `JSON.stringify`) everywhere but in the
 * caller's JSON — job inputs and outputs, node payloads, event bodies — which
 * PostgreSQL keeps as jsonb, whose objects list their keys shortest first,
 * where SQLite keeps the caller's order. README, "Input rules", documents it:
 * JSON objects are unordered (RFC 8259 §4).
 *
 * Deterministic by construction: one fixed seed, steps one at a time (or, in a
 * `together` step, at once on distinct jobs only), each store under its own
 * TestClock and a Random seeded alike. What the generator covers, and what it
 * does not (worker pools, `await`, wake-up, startup recovery, concurrent
 * claims: their outcome is scheduling), is in the `op` arbitrary below.
 *
 * `HSK_DIFFERENTIAL_SEED` replays another sequence set; `HSK_SOAK=1` runs more.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fs from "node:fs"
import type { JobRequestInput } from "../../src/domain/AiJob.js"
import type { EventType } from "../../src/domain/EventRecord.js"
import type { JobId, TraceId, WorkflowRunId } from "../../src/domain/Ids.js"
import type { JobKind } from "../../src/domain/JobKind.js"
import { type JobState, JobStates } from "../../src/domain/JobState.js"
import * as FlightRecorder from "../../src/FlightRecorder.js"
import * as Janitor from "../../src/Janitor.js"
import * as Jobs from "../../src/Jobs.js"
import * as Recovery from "../../src/Recovery.js"
import { JobStore } from "../../src/store/JobStore.js"
import * as PgStore from "../../src/store/PgJobStore.js"
import * as SqliteStore from "../../src/store/SqliteJobStore.js"
import * as WakeUp from "../../src/WakeUp.js"
import { validEvents } from "../flight/fixtures.js"
import { services } from "../jobs/services.js"
import { freshPgDatabase } from "../support/pg-database.js"
import { tempSqliteFile } from "../support/stores.js"
import { injections } from "./arbitraries.js"
import { soak } from "./config.js"
import { report } from "./report.js"

// ---------------------------------------------------------------------------------------------
// The operations, as data: each names what a user calls and with what.

/**
 * A job a step refers to: one seen before (by its order of first appearance, modulo how many; maybe
 * in upper case), one claimed or started before (the latest first), or one that does not exist.
 */
type JobRef =
  | { readonly known: number; readonly upper?: boolean }
  | { readonly claimed: number }
  | { readonly unknown: string }

type Move = "complete" | "completeWithIssues" | "awaitValidation" | "awaitUser" | "cancel" | "poison" | "retry"

interface NodeStep {
  readonly node_id: string
  readonly node_type: string
  readonly input: unknown
  readonly ok: boolean
}

type Op =
  | { readonly op: "advance"; readonly ms: number }
  | { readonly op: "submit"; readonly input: unknown }
  | { readonly op: "submitMany"; readonly inputs: ReadonlyArray<unknown> }
  | { readonly op: "claimNext"; readonly kinds?: ReadonlyArray<JobKind> }
  | { readonly op: "begin"; readonly how: "start" | "resume" | "rework"; readonly job: JobRef }
  | { readonly op: "move"; readonly how: Move; readonly job: JobRef; readonly reason?: string }
  | { readonly op: "fail"; readonly job: JobRef; readonly error: string }
  | { readonly op: "pin"; readonly pinned: boolean; readonly job: JobRef }
  | { readonly op: "addMetrics"; readonly job: JobRef; readonly delta: Record<string, number> }
  | {
    readonly op: "run"
    readonly job: JobRef
    readonly nodes: ReadonlyArray<NodeStep>
    readonly outcome: "ok" | "fail" | "violation"
    readonly onSuccess?: "completed_with_issues" | "awaiting_validation"
    readonly output: unknown
  }
  /** Steps on distinct jobs at once (PostgreSQL's group commit and its other shared-statement paths). */
  | { readonly op: "together"; readonly steps: ReadonlyArray<Together> }
  | { readonly op: "heartbeat"; readonly run: number }
  | { readonly op: "record"; readonly event: unknown }
  | { readonly op: "recordMany"; readonly events: ReadonlyArray<unknown> }
  | { readonly op: "get"; readonly job: JobRef }
  | { readonly op: "history"; readonly job: JobRef }
  | { readonly op: "list"; readonly filter: ListFilter }
  | { readonly op: "listEvents"; readonly filter: EventsFilter }
  | { readonly op: "recover"; readonly thresholdSecs: number }
  | { readonly op: "prune"; readonly olderThanSecs: number; readonly keepNewest: number; readonly dryRun: boolean }

type Together =
  | { readonly op: "submit"; readonly input: unknown }
  | { readonly op: "move"; readonly how: "complete" | "cancel"; readonly job: JobRef; readonly reason?: string }
  | { readonly op: "fail"; readonly job: JobRef; readonly error: string }
  | { readonly op: "heartbeat"; readonly run: number }

interface ListFilter {
  readonly states?: ReadonlyArray<JobState>
  readonly kinds?: ReadonlyArray<JobKind>
  readonly order?: "asc" | "desc"
  readonly limit: number
  readonly createdAfterMs?: number
  readonly createdBeforeMs?: number
  readonly traceOf?: JobRef
}

interface EventsFilter {
  readonly job?: JobRef
  readonly types?: ReadonlyArray<EventType>
  readonly order?: "asc" | "desc"
  readonly limit: number
  readonly sinceMs?: number
  readonly untilMs?: number
  readonly traceOf?: JobRef
}

// ---------------------------------------------------------------------------------------------
// The generator.

const KINDS: ReadonlyArray<JobKind> = ["doc_summarize", "doc_edit", "terminal_exec", "workflow_run", "debug_bundle_export"]
const STATES: ReadonlyArray<JobState> = JobStates
const EVENT_TYPES = Object.keys(validEvents) as ReadonlyArray<EventType>

/** Text a user might send: unicode (composed and not), injections, invisible characters, a long line. */
const texts = ["plain", "é", "e\u0301", "🙂 emoji", "ﬁ ligature", "\u200b", "Ünïcødé ✓ 日本語", "x".repeat(300), injections[0]!, injections[8]!]
/** JSON object keys that have bitten JSON code somewhere. */
const hostileKeys = ["__proto__", "constructor", "toString", "", "$where", "a.b", "a\"b", "'; DROP TABLE ai_jobs; --", "ключ", "é", "e\u0301", "🙂", "\u200b", "0", "-1", "key with space"]

/** A JSON value with hostile keys, built from JSON text as an HTTP body would be (so `__proto__` is an own key). */
const hostileJson: fc.Arbitrary<unknown> = fc.tuple(
  fc.uniqueArray(fc.constantFrom(...hostileKeys), { minLength: 1, maxLength: 4 }),
  fc.array(fc.oneof(fc.constantFrom(...texts), fc.integer({ min: -1000, max: 1000 }), fc.constant(null), fc.boolean(), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { minLength: 4, maxLength: 4 })
).map(([keys, values]) =>
  JSON.parse(`{${keys.map((key, i) => `${JSON.stringify(key)}:${i === 0 ? `{"nested":[${JSON.stringify(values[0])},{${JSON.stringify(key)}:true}]}` : JSON.stringify(values[i])}`).join(",")}}`) as unknown)

/** A few fixed job ids, so some submits collide (AlreadyExists), one of them given in upper case. */
const FIXED_JOB_IDS = ["0190a000-0000-7000-8000-0000000000a1", "0190a000-0000-7000-8000-0000000000a2", "0190A000-0000-7000-8000-0000000000A3"]
const FIXED_EVENT_IDS = ["0190a000-0000-7000-8000-0000000000e1", "0190a000-0000-7000-8000-0000000000e2"]
const UNKNOWN_ID = "0190a000-0000-7000-8000-00000000dead"
/** A trace id several jobs share (a caller's own correlation), so filtering by trace finds more than one. */
const FIXED_TRACE_ID = "0190a000-0000-7000-8000-0000000000c1"

/** `arbitrary` one time in `1 + absent`, else absent: most requests leave most optional fields out, as most callers do. */
const sometimes = <A>(arbitrary: fc.Arbitrary<A>, absent = 3): fc.Arbitrary<A | undefined> =>
  fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary })

const validRequest: fc.Arbitrary<JobRequestInput> = fc.record({
  job_kind: fc.constantFrom(...KINDS),
  protocol_id: fc.oneof({ weight: 3, arbitrary: fc.constant("hsk.diff.v1") }, fc.constantFrom("hsk.governance_pack.v1", ...texts)),
  profile_id: fc.constantFrom("tester", "ünïcode-user", "e\u0301"),
  access_mode: fc.constantFrom("analysis_only", "preview_only", "apply_scoped"),
  safety_mode: fc.constantFrom("strict", "normal", "experimental"),
  capability_profile_id: sometimes(fc.constantFrom("Analyst", "Coder", "Operator", "Nobody")),
  job_inputs: sometimes(fc.oneof(hostileJson, fc.constant(null), fc.constantFrom(...texts)), 1),
  status_reason: sometimes(fc.constantFrom(...texts)),
  is_pinned: sometimes(fc.boolean()),
  job_id: sometimes(fc.constantFrom(...FIXED_JOB_IDS), 6),
  trace_id: sometimes(fc.constantFrom(FIXED_TRACE_ID, FIXED_TRACE_ID.toUpperCase()), 6),
  priority: sometimes(fc.integer({ min: -2, max: 2 }), 1),
  max_attempts: sometimes(fc.integer({ min: 1, max: 3 })),
  backoff: sometimes(fc.record({ initial: fc.constantFrom(0, 500, 2000), jitter: fc.constantFrom(0, 0.5) })),
  run_after: sometimes(fc.constantFrom("2026-01-05T09:00:02.000Z", "2026-01-05T10:00:00+01:00", "2025-12-31T23:59:59.999Z"), 5),
  entity_refs: sometimes(fc.constantFrom([], [{ entity_id: "doc-1", entity_kind: "document" }], [{ entity_id: "e\u0301", entity_kind: "🙂" }])),
  planned_operations: sometimes(fc.constantFrom([], [{ op_type: "write", target: { entity_id: "doc-1", entity_kind: "document" }, description: "e\u0301dit" }]))
}).map((request) => Object.fromEntries(Object.entries(request).filter(([, value]) => value !== undefined)) as unknown as JobRequestInput)

/** A request that must be refused as bad input: one field wrong or missing. */
const invalidRequest: fc.Arbitrary<unknown> = fc.tuple(validRequest, fc.constantFrom(
  { job_kind: "nonsense_kind" },
  { job_kind: undefined },
  { protocol_id: "" },
  { protocol_id: "a\u0000b" },
  { profile_id: "\uD800" },
  { priority: 40_000 },
  { priority: 1.5 },
  { max_attempts: 0 },
  { job_id: "not-a-uuid" },
  { job_id: "00000000-0000-0000-0000-000000000000" },
  { entity_refs: [{ entity_id: "", entity_kind: "x" }] },
  { backoff: { intial: 5 } },
  { access_mode: "everything" },
  { job_inputs: { ["k\u0000"]: 1 } }
)).map(([request, bad]) => {
  const out: Record<string, unknown> = { ...request, ...bad }
  for (const [key, value] of Object.entries(bad)) if (value === undefined) delete out[key]
  return out
})

const jobRef: fc.Arbitrary<JobRef> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ known: fc.nat({ max: 50 }), upper: fc.boolean() }, { requiredKeys: ["known"] }) },
  { weight: 3, arbitrary: fc.nat({ max: 3 }).map((claimed) => ({ claimed })) },
  { weight: 1, arbitrary: fc.constant({ unknown: UNKNOWN_ID }) }
)

const nodeStep: fc.Arbitrary<NodeStep> = fc.record({
  node_id: fc.constantFrom("plan", "call-model", "e\u0301crire", "🙂"),
  node_type: fc.constantFrom("llm", "tool"),
  input: fc.oneof(hostileJson, fc.constant(null)),
  ok: fc.boolean()
})

/** A caller's event: a valid one of each type with its ids changed, some with hostile text, some made invalid. */
const callerEvent: fc.Arbitrary<unknown> = fc.tuple(
  fc.constantFrom(...EVENT_TYPES),
  fc.option(fc.constantFrom(...FIXED_EVENT_IDS), { nil: undefined }),
  fc.uuid(),
  fc.constantFrom(...texts),
  fc.nat({ max: 9 })
).map(([type, fixedId, freshId, text, variant]) => {
  const event: Record<string, unknown> = { ...validEvents[type], event_id: fixedId ?? freshId.toLowerCase() }
  if (variant === 0) event["type"] = "user_message"
  if (variant === 1) delete event["timestamp"]
  if (variant === 2 && "reason" in event) event["reason"] = text
  if (variant === 3 && "message" in event) event["message"] = text
  if (variant === 4) event["trace_id"] = event["trace_id"] === undefined ? undefined : String(event["trace_id"]).toUpperCase()
  if (variant === 5 && "detail" in event) event["detail"] = `${text} Authorization: Bearer abc.def.ghi`
  if (variant === 6) event["timestamp"] = "2026-01-19T23:59:37.328+02:00"
  return event
})

const listFilter: fc.Arbitrary<ListFilter> = fc.record({
  states: fc.subarray([...STATES], { minLength: 1, maxLength: 3 }),
  kinds: fc.subarray([...KINDS], { minLength: 1, maxLength: 2 }),
  order: fc.constantFrom("asc" as const, "desc" as const),
  limit: fc.integer({ min: 1, max: 4 }),
  createdAfterMs: fc.integer({ min: 0, max: 20_000 }),
  createdBeforeMs: fc.integer({ min: 0, max: 4_000_000 }),
  traceOf: jobRef
}, { requiredKeys: ["limit"] })

const eventsFilter: fc.Arbitrary<EventsFilter> = fc.record({
  job: jobRef,
  types: fc.subarray([...EVENT_TYPES], { minLength: 1, maxLength: 3 }),
  order: fc.constantFrom("asc" as const, "desc" as const),
  limit: fc.integer({ min: 1, max: 5 }),
  sinceMs: fc.integer({ min: 0, max: 20_000 }),
  untilMs: fc.integer({ min: 0, max: 4_000_000 }),
  traceOf: jobRef
}, { requiredKeys: ["limit"] })

const MOVES: ReadonlyArray<Move> = ["complete", "completeWithIssues", "awaitValidation", "awaitUser", "cancel", "poison", "retry"]

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 3_000 }).map((ms): Op => ({ op: "advance", ms })) },
  { weight: 1, arbitrary: fc.constantFrom(31_000, 3_600_000, 8 * 86_400_000).map((ms): Op => ({ op: "advance", ms })) },
  { weight: 6, arbitrary: validRequest.map((input): Op => ({ op: "submit", input })) },
  { weight: 2, arbitrary: invalidRequest.map((input): Op => ({ op: "submit", input })) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof({ weight: 6, arbitrary: validRequest }, { weight: 1, arbitrary: invalidRequest }), { minLength: 0, maxLength: 4 })
      .map((inputs): Op => ({ op: "submitMany", inputs }))
  },
  { weight: 5, arbitrary: fc.option(fc.subarray([...KINDS], { minLength: 1 }), { nil: undefined }).map((kinds): Op => kinds === undefined ? { op: "claimNext" } : { op: "claimNext", kinds }) },
  { weight: 2, arbitrary: fc.record({ how: fc.constantFrom("start" as const, "resume" as const, "rework" as const), job: jobRef }).map((r): Op => ({ op: "begin", ...r })) },
  { weight: 4, arbitrary: fc.record({ how: fc.constantFrom(...MOVES), job: jobRef, reason: fc.constantFrom(...texts) }, { requiredKeys: ["how", "job"] }).map((r): Op => ({ op: "move", ...r })) },
  { weight: 2, arbitrary: fc.record({ job: jobRef, error: fc.constantFrom(...texts, "nul \u0000 inside") }).map((r): Op => ({ op: "fail", ...r })) },
  { weight: 1, arbitrary: fc.record({ pinned: fc.boolean(), job: jobRef }).map((r): Op => ({ op: "pin", ...r })) },
  {
    weight: 1,
    arbitrary: fc.record({
      job: jobRef,
      delta: fc.constantFrom<Record<string, number>>({ tokens_in: 10 }, { tokens_out: 3, tool_calls: 1 }, { duration_ms: -5 }, { tokens_in: 1.5 }, { duration_ms: Number.MAX_SAFE_INTEGER })
    }).map((r): Op => ({ op: "addMetrics", ...r }))
  },
  {
    weight: 4,
    arbitrary: fc.record({
      // Mostly a job just claimed: a run needs a running job.
      job: fc.oneof({ weight: 1, arbitrary: jobRef }, { weight: 2, arbitrary: fc.nat({ max: 2 }).map((claimed): JobRef => ({ claimed })) }),
      nodes: fc.array(nodeStep, { maxLength: 3 }),
      outcome: fc.constantFrom("ok" as const, "ok" as const, "fail" as const, "violation" as const),
      onSuccess: sometimes(fc.constantFrom("completed_with_issues" as const, "awaiting_validation" as const)),
      output: fc.oneof(hostileJson, fc.constant(null))
    }).map(({ onSuccess, ...r }): Op => ({ op: "run", ...r, ...(onSuccess === undefined ? {} : { onSuccess }) }))
  },
  {
    weight: 2,
    arbitrary: fc.array(
      fc.oneof(
        validRequest.map((input): Together => ({ op: "submit", input })),
        fc.record({ how: fc.constantFrom("complete" as const, "cancel" as const), job: fc.nat({ max: 3 }).map((claimed): JobRef => ({ claimed })) })
          .map((r): Together => ({ op: "move", ...r })),
        fc.record({ job: fc.nat({ max: 3 }).map((claimed): JobRef => ({ claimed })), error: fc.constantFrom(...texts) }).map((r): Together => ({ op: "fail", ...r })),
        fc.nat({ max: 3 }).map((run): Together => ({ op: "heartbeat", run }))
      ),
      { minLength: 2, maxLength: 4 }
    ).map((steps): Op => ({
      op: "together",
      // The i-th step on the i-th latest claim (or run): distinct jobs, unless one was claimed twice.
      steps: steps.map((t, i): Together =>
        t.op === "move" || t.op === "fail" ? { ...t, job: { claimed: i } } : t.op === "heartbeat" ? { ...t, run: i } : t)
    }))
  },
  { weight: 2, arbitrary: fc.nat({ max: 20 }).map((run): Op => ({ op: "heartbeat", run })) },
  { weight: 3, arbitrary: callerEvent.map((event): Op => ({ op: "record", event })) },
  { weight: 1, arbitrary: fc.array(callerEvent, { maxLength: 3 }).map((events): Op => ({ op: "recordMany", events })) },
  { weight: 1, arbitrary: jobRef.map((job): Op => ({ op: "get", job })) },
  { weight: 1, arbitrary: jobRef.map((job): Op => ({ op: "history", job })) },
  { weight: 2, arbitrary: listFilter.map((filter): Op => ({ op: "list", filter })) },
  { weight: 2, arbitrary: eventsFilter.map((filter): Op => ({ op: "listEvents", filter })) },
  { weight: 2, arbitrary: fc.constantFrom(1, 5, 30).map((thresholdSecs): Op => ({ op: "recover", thresholdSecs })) },
  {
    weight: 1,
    arbitrary: fc.record({ olderThanSecs: fc.constantFrom(0, 2, 60), keepNewest: fc.nat({ max: 2 }), dryRun: fc.boolean() })
      .map((r): Op => ({ op: "prune", ...r }))
  }
)

// ---------------------------------------------------------------------------------------------
// Normalising what a user observes.

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi

/** Each store's ids, named by their order of first appearance. */
class Names {
  private readonly names = new Map<string, string>()
  readonly jobs: Array<string> = []
  readonly runs: Array<string> = []
  /** Jobs of claims (and starts), the latest first. */
  readonly claimed: Array<string> = []
  name(id: string): string {
    let name = this.names.get(id)
    if (name === undefined) {
      name = `id#${this.names.size}`
      this.names.set(id, name)
    }
    return name
  }
  /** A job id seen in an answer, in order of first appearance. */
  sawJob(id: string): void {
    if (!this.jobs.includes(id)) this.jobs.push(id)
  }
  /** Each run's job. */
  readonly jobOfRun = new Map<string, string>()
  sawRun(id: string, jobId: string): void {
    if (!this.runs.includes(id)) this.runs.push(id)
    this.jobOfRun.set(id, jobId)
  }
}

/**
 * The caller's JSON (and an event's body), whose key order is jsonb's on PostgreSQL: see the
 * header. Every other object — a job, run, node, event record, error, page — the library builds
 * itself, so its field order is compared too (`fields`): it shows in `JSON.stringify`.
 */
const JSON_VALUES = new Set(["job_inputs", "job_outputs", "input_payload", "output_payload", "body", "input", "output"])

const normalise = (value: unknown, names: Names, key?: string, json = false): unknown => {
  if (typeof value === "string") {
    if (key === "next_cursor") {
      try {
        return { cursor: normalise(JSON.parse(Buffer.from(value, "base64url").toString("utf8")), names) }
      } catch {
        return { cursor: "undecodable", value }
      }
    }
    return value.replace(UUID, (id) => names.name(id))
  }
  if (value === null || typeof value !== "object") return value
  if (DateTime.isDateTime(value)) return `@${DateTime.formatIso(DateTime.toUtc(value))}`
  if (Duration.isDuration(value)) return `${Duration.toMillis(value)} ms`
  if (Array.isArray(value)) return value.map((item) => normalise(item, names, undefined, json))
  const out: Record<string, unknown> = {}
  if ("_tag" in value) out["_tag"] = (value as { readonly _tag: unknown })._tag
  else if (value instanceof Error) out["error"] = value.constructor.name
  if (!json) out["fields"] = Object.keys(value).join(" ")
  for (const [k, v] of Object.entries(value)) out[k] = normalise(v, names, k, json || JSON_VALUES.has(k))
  return out
}

/** An answer as a user sees it: the value, the error (tag and fields), or a defect. */
const observe = (exit: Exit.Exit<unknown, unknown>, names: Names): unknown => {
  if (Exit.isSuccess(exit)) return { ok: normalise(exit.value, names) }
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "Some") {
    const error = failure.value
    // A StorageError's text is the driver's; its tag is what a user handles.
    if (typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "StorageError") return { error: "StorageError" }
    return { error: normalise(error, names) }
  }
  return { defect: Cause.pretty(exit.cause).split("\n")[0] }
}

/** Remembers the job and run ids an answer carries, so later steps can refer to them. */
const remember = (value: unknown, names: Names): void => {
  if (value === null || typeof value !== "object") return
  if (Array.isArray(value)) {
    for (const item of value) remember(item, names)
    return
  }
  const record = value as Record<string, unknown>
  if (typeof record["job_id"] === "string" && typeof record["state"] === "string") names.sawJob(record["job_id"])
  if (typeof record["id"] === "string" && typeof record["job_id"] === "string" && typeof record["status"] === "string") names.sawRun(record["id"], record["job_id"])
  // A claim: its job and its run.
  if ("job" in record && "run" in record && typeof (record["job"] as { job_id?: unknown })?.job_id === "string") {
    names.claimed.unshift((record["job"] as { readonly job_id: string }).job_id)
  }
  for (const key of ["job", "run", "items"]) if (key in record) remember(record[key], names)
}

// ---------------------------------------------------------------------------------------------
// Running a sequence on one store.

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0)

/** The retry policy every store runs under: doc_summarize retries with backoff, so retries and `run_after` are reachable. */
const retry = { kinds: { doc_summarize: { maxAttempts: 2, backoff: { initial: 1000, jitter: 0.5 } } } }

interface Observed {
  readonly steps: ReadonlyArray<unknown>
  readonly final: unknown
}

const resolveJob = (ref: JobRef, names: Names): JobId => {
  if ("unknown" in ref) return ref.unknown as JobId
  if ("claimed" in ref) return (names.claimed[ref.claimed % Math.max(1, names.claimed.length)] ?? UNKNOWN_ID) as JobId
  const id = names.jobs.length === 0 ? UNKNOWN_ID : names.jobs[ref.known % names.jobs.length]!
  return (ref.upper === true ? id.toUpperCase() : id) as JobId
}

const runOn = (layer: Layer.Layer<JobStore, unknown>, ops: ReadonlyArray<Op>, randomSeed: number): Effect.Effect<Observed, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    yield* TestClock.setTime(T0)
    const context = yield* Layer.build(services(layer, Recovery.layerNoStartupRecovery, WakeUp.layerPollOnly, { retry }))
    const jobs = Context.get(context, Jobs.Jobs)
    const recorder = Context.get(context, FlightRecorder.FlightRecorder)
    const store = Context.get(context, JobStore)
    const names = new Names()
    const steps: Array<unknown> = []

    /** A run seen before, by its order of first appearance (the latest first), or one that does not exist. */
    const runOf = (n: number): WorkflowRunId =>
      (names.runs.length === 0 ? UNKNOWN_ID : names.runs[names.runs.length - 1 - (n % names.runs.length)]!) as WorkflowRunId

    /** The trace id of a job (read through the API), or one no job has. */
    const traceOf = (ref: JobRef) =>
      Effect.map(Effect.option(jobs.get(resolveJob(ref, names))), (job) => job._tag === "Some" ? job.value.trace_id : UNKNOWN_ID as TraceId)

    /** Waits (in real time, a bounded while) until the run's heartbeat is at the Clock's now: `Jobs.run`'s first beat. */
    const firstBeat = (runId: WorkflowRunId) =>
      Effect.gen(function*() {
        const now = DateTime.toEpochMillis(yield* DateTime.now)
        for (let i = 0; i < 500; i++) {
          const run = yield* Effect.option(store.getRun(runId))
          if (run._tag === "None" || DateTime.toEpochMillis(run.value.last_heartbeat) >= now) return
          yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 2)))
        }
      })

    const step = (o: Op | Together): Effect.Effect<unknown, unknown> => {
      switch (o.op) {
        case "advance":
          return TestClock.adjust(Duration.millis(o.ms))
        case "submit":
          return jobs.submitUntrusted(o.input)
        case "submitMany":
          return jobs.submitMany(o.inputs as ReadonlyArray<JobRequestInput>)
        case "claimNext":
          return jobs.claimNext(o.kinds === undefined ? undefined : { kinds: o.kinds })
        case "begin":
          return jobs[o.how](resolveJob(o.job, names))
        case "move":
          return jobs[o.how](resolveJob(o.job, names), o.reason === undefined ? undefined : { reason: o.reason })
        case "fail":
          return jobs.fail(resolveJob(o.job, names), o.error)
        case "pin":
          return o.pinned ? jobs.pin(resolveJob(o.job, names)) : jobs.unpin(resolveJob(o.job, names))
        case "addMetrics":
          return jobs.addMetrics(resolveJob(o.job, names), o.delta)
        case "run":
          return jobs.run(resolveJob(o.job, names), (ctx) =>
            Effect.gen(function*() {
              // `Jobs.run` beats at once, on its own fiber, concurrently with the program (runJob.ts):
              // whether that beat lands before the program's end is scheduling, not behaviour, and it
              // differs between a synchronous and a networked driver. The program lets it land first.
              yield* firstBeat(ctx.run.id)
              for (const node of o.nodes) {
                yield* ctx.node(
                  { node_id: node.node_id, node_type: node.node_type, ...(node.input === null ? {} : { input: node.input as never }) },
                  node.ok ? Effect.succeed({ done: node.node_id }) : Effect.fail(`node ${node.node_id} failed`)
                )
              }
              if (o.outcome === "fail") return yield* Effect.fail("the program failed")
              if (o.outcome === "violation") return yield* ctx.securityViolation({ violation: "prompt_injection", detail: "found in e\u0301 input" })
              return o.output as never
            }), o.onSuccess === undefined ? undefined : { onSuccess: o.onSuccess })
        case "heartbeat":
          return store.heartbeat(runOf(o.run))
        case "record":
          return recorder.recordUntrusted(o.event)
        case "recordMany":
          return recorder.recordManyUntrusted(o.events)
        case "get":
          return jobs.get(resolveJob(o.job, names))
        case "history":
          return jobs.history(resolveJob(o.job, names))
        case "list":
          return Effect.gen(function*() {
            const f = o.filter
            const filter = {
              ...(f.states === undefined ? {} : { states: f.states }),
              ...(f.kinds === undefined ? {} : { kinds: f.kinds }),
              ...(f.order === undefined ? {} : { order: f.order }),
              ...(f.createdAfterMs === undefined ? {} : { created_after: DateTime.unsafeMake(T0 + f.createdAfterMs) }),
              ...(f.createdBeforeMs === undefined ? {} : { created_before: DateTime.unsafeMake(T0 + f.createdBeforeMs) }),
              limit: f.limit
            }
            const traced = f.traceOf === undefined ? filter : { ...filter, trace_id: yield* traceOf(f.traceOf) }
            const first = yield* jobs.list(traced)
            // The next page through the first page's cursor, as a user pages on.
            const second = first.next_cursor === null ? null : yield* jobs.list({ ...traced, cursor: first.next_cursor })
            return { first, second }
          })
        case "listEvents":
          return Effect.gen(function*() {
            const f = o.filter
            const filter = {
              ...(f.job === undefined ? {} : { job_id: resolveJob(f.job, names) }),
              ...(f.types === undefined ? {} : { types: f.types }),
              ...(f.order === undefined ? {} : { order: f.order }),
              ...(f.sinceMs === undefined ? {} : { since: DateTime.unsafeMake(T0 + f.sinceMs) }),
              ...(f.untilMs === undefined ? {} : { until: DateTime.unsafeMake(T0 + f.untilMs) }),
              limit: f.limit
            }
            const traced = f.traceOf === undefined ? filter : { ...filter, trace_id: yield* traceOf(f.traceOf) }
            const first = yield* recorder.list(traced)
            const second = first.next_cursor === null ? null : yield* recorder.list({ ...traced, cursor: first.next_cursor })
            return { first, second }
          })
        case "together":
          return Effect.gen(function*() {
            // Distinct jobs only (a heartbeat's is its run's): two steps on one job race, and a race has no one right answer.
            const targets = o.steps.map((t) =>
              t.op === "move" || t.op === "fail" ? resolveJob(t.job, names) : t.op === "heartbeat" ? names.jobOfRun.get(runOf(t.run)) ?? UNKNOWN_ID : undefined)
            const named = targets.filter((t) => t !== undefined)
            if (new Set(named).size !== named.length) return "skipped: two steps on one job"
            // Moves of running jobs only. Steps at once write their records at one instant, so the
            // records list in the order of their event ids, made as each step gets to it: a move of
            // a running job and a submit make theirs before any I/O, the same on both stores; a move
            // of a job in any other state reads the job first, so its id's place is the database's
            // latency. The state is peeked here, outside what is compared.
            for (const [i, t] of o.steps.entries()) {
              if (t.op !== "move" && t.op !== "fail") continue
              const job = yield* Effect.option(store.getJob(targets[i] as JobId))
              if (job._tag === "None" || job.value.state !== "running") return `skipped: step ${i}'s job is not running`
            }
            return yield* Effect.all(o.steps.map((t) => Effect.exit(step(t))), { concurrency: "unbounded" })
              .pipe(Effect.map((exits) => exits.map((exit) => observe(exit, names))))
          })
        case "recover":
          // One scan at a time, SQLite's default. PostgreSQL's default is two at once, "each batch in its
          // own transaction on its own connection" (Recovery.ts, RecoveryOptions.concurrency): which of
          // them stalls which run is then the lock race's, and with it the report's order and the order
          // of the recovery records of one instant (seen here: two runs of one heartbeat, swapped).
          return Recovery.recoverStalledRuns({ threshold: Duration.seconds(o.thresholdSecs), concurrency: 1 }).pipe(Effect.provide(context))
        case "prune":
          return Janitor.runOnce({ olderThan: Duration.seconds(o.olderThanSecs), keepNewest: o.keepNewest, dryRun: o.dryRun })
            .pipe(Effect.provide(context))
      }
    }

    for (const o of ops) {
      const exit = yield* Effect.exit(step(o))
      if (Exit.isSuccess(exit)) remember(exit.value, names)
      steps.push(observe(exit, names))
    }

    // The whole state, read back through the public API: every job (all pages) with its runs,
    // nodes and events, and every event in the log in order, decoded.
    const final = yield* Effect.gen(function*() {
      const all: Array<unknown> = []
      let cursor: string | undefined
      do {
        const page = yield* jobs.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
        for (const job of page.items) all.push(yield* jobs.history(job.job_id))
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
      const events: Array<unknown> = []
      cursor = undefined
      do {
        const page: { readonly items: ReadonlyArray<unknown>; readonly next_cursor: string | null } = yield* recorder.list({
          limit: 1000,
          ...(cursor === undefined ? {} : { cursor })
        })
        events.push(...page.items)
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
      return { jobs: all, events }
    }).pipe(Effect.exit)
    return { steps, final: observe(final, names) }
  }).pipe(
    // Each store under its own TestClock, and a Random seeded alike (a retry's jitter).
    Effect.withRandom(Random.make(randomSeed)),
    Effect.provide(TestContext.TestContext)
  )

// ---------------------------------------------------------------------------------------------
// The test.

const fromEnv = (name: string): number | undefined => {
  const text = process.env[name]
  return text === undefined || text.trim() === "" ? undefined : Number(text)
}
/** Fixed, so a run is repeatable; another seed explores other sequences. */
const SEED = fromEnv("HSK_DIFFERENTIAL_SEED") ?? 20_261_201
const SEQUENCES = soak ? 60 : 16
const STEPS = soak ? 100 : 60

const describeOp = (o: Op): string => JSON.stringify(o, (_k, v) => typeof v === "string" && v.length > 40 ? `${v.slice(0, 40)}…(${v.length})` : v)

const sqliteLayer = Effect.sync(() => SqliteStore.layer({ filename: tempSqliteFile("differential") }))
const pgLayer = Effect.map(freshPgDatabase("differential"), (url) => PgStore.layer({ url }))

describe("reliability: SQLite and PostgreSQL answer a user alike", () => {
  const sequences = fc.sample(fc.array(op, { minLength: STEPS, maxLength: STEPS }), { numRuns: SEQUENCES, seed: SEED })

  it.live(`R17 ${SEQUENCES} generated sequences of ${STEPS} public operations give the same answers and leave the same state on SQLite and PostgreSQL (seed ${SEED})`, () =>
    Effect.gen(function*() {
      const outcomes: Record<string, number> = {}
      for (const [s, ops] of sequences.entries()) {
        const sqlite = yield* Effect.scoped(Effect.flatMap(sqliteLayer, (layer) => runOn(layer, ops, SEED + s)))
        const pg = yield* Effect.scoped(Effect.flatMap(pgLayer, (layer) => runOn(layer, ops, SEED + s)))
        const dump = process.env["HSK_DIFFERENTIAL_DUMP"]
        if (dump !== undefined && dump !== "") {
          fs.writeFileSync(`${dump}-${s}.json`, JSON.stringify({ ops, sqlite, pg }, null, 1))
        }
        for (const [i, o] of ops.entries()) {
          const expected = sqlite.steps[i] as Record<string, unknown>
          const error = expected["error"] as { readonly _tag?: unknown } | string | undefined
          const kind = "ok" in expected ? "ok" : error === undefined ? "defect" : typeof error === "string" ? "error (the program's own)" : `error ${String(error._tag)}`
          outcomes[`${o.op} ${kind}`] = (outcomes[`${o.op} ${kind}`] ?? 0) + 1
          assert.deepStrictEqual(
            pg.steps[i],
            sqlite.steps[i],
            `seed ${SEED}, sequence ${s}, step ${i}: ${describeOp(o)} — PostgreSQL's answer (actual) differs from SQLite's (expected)` +
              ` (HSK_DIFFERENTIAL_DUMP=<path prefix> writes each sequence's steps and both stores' observations)`
          )
        }
        assert.deepStrictEqual(pg.final, sqlite.final, `seed ${SEED}, sequence ${s}: the state read back after all ${ops.length} steps differs — PostgreSQL (actual), SQLite (expected)`)
      }
      report("differential", { seed: SEED, sequences: SEQUENCES, steps: STEPS, outcomes: Object.fromEntries(Object.entries(outcomes).sort()) })
    }), 600_000)
})
