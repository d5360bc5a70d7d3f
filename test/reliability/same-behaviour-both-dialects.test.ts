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
 * TestClock and a Random seeded alike. Besides the single calls, the steps
 * reach `Jobs.run` with generated programs (nodes that succeed, fail, are
 * caught, die or are left open; outputs with hostile keys and edge numbers;
 * typed errors, defects, violations, interrupts, unstorable outputs, a run
 * taken mid-program), one polling `Jobs.worker` loop draining the queue in its
 * claim order (retries, backoff), and a process restart: the store opened
 * again on the same database and startup recovery behind its gate
 * (`Recovery.layerStartup`), with a submit waiting for it. PostgreSQL runs in
 * its statement modes too (`PG_MODES`), `coalesce: false` among them. Not
 * covered here, their order being scheduling: pools of more than one loop,
 * concurrent claims, `await`, wake-up, periodic sweeps — their outcomes are
 * compared in `same-outcome-both-dialects.test.ts` (a generated queue drained
 * by a pool of three loops, job by job; `await`'s answers; wake-up in and
 * across processes; heartbeats landing mid-program; the Janitor's schedule and
 * recovery's `sweepEvery`). Here a program takes less than one heartbeat
 * interval. Still not covered differentially: which of PostgreSQL's racing
 * startup scans stalls which run (compared as a set, in the second test).
 *
 * `HSK_DIFFERENTIAL_SEED` replays another sequence set; `HSK_SOAK=1` runs more.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
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

/**
 * How one node of a program ends: its work succeeds, fails with a typed error (the program fails,
 * or catches it and goes on), dies, or is left open (forked, still working when the program ends).
 */
type NodeEnd = "ok" | "fail" | "failCaught" | "die" | "open"

interface ProgramNode {
  readonly node_id: string
  readonly node_type: string
  readonly input: unknown
  readonly end: NodeEnd
}

/**
 * How a program ends: with its output, a typed error, a defect, a reported security violation, an
 * interrupt (the job is released, not failed), an output no database can store, or by having its
 * run taken away (an operator cancels the job mid-program; its next node finds the run lost).
 */
type ProgramEnd = "ok" | "fail" | "die" | "violation" | "interrupt" | "unstorable" | "taken"

/** A job's program, as data: its nodes, the time it takes (on the Clock), metrics it adds, its end. */
interface Program {
  readonly nodes: ReadonlyArray<ProgramNode>
  /** Clock time the program takes, under the heartbeat interval: whether a beat lands mid-program would be scheduling. */
  readonly tookMs: number
  readonly metrics?: Record<string, number>
  readonly end: ProgramEnd
  readonly output: unknown
}

/** Options of a startup recovery (`Recovery.layerStartup`) at a restart. */
interface StartupOptions {
  readonly thresholdSecs?: number
  readonly batchSize?: number
  /** 1, or absent: the store's default (2 on PostgreSQL), whose scans race for the runs — see `restart`. */
  readonly concurrency?: 1
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
    readonly program: Program
    readonly onSuccess?: "completed_with_issues" | "awaiting_validation"
  }
  /** A claim (of `kinds`), then `Jobs.run` of what it claimed: the path of most successful runs. */
  | {
    readonly op: "work"
    readonly kinds?: ReadonlyArray<JobKind>
    readonly program: Program
    readonly onSuccess?: "completed_with_issues" | "awaiting_validation"
  }
  /**
   * `queue` submitted, then one `Jobs.worker` loop with handlers for `kinds` drains the queue: each
   * handler call runs the next of `programs`.
   */
  | {
    readonly op: "drain"
    readonly queue: ReadonlyArray<JobRequestInput>
    readonly kinds: ReadonlyArray<JobKind>
    readonly programs: ReadonlyArray<Program>
    readonly polls: number
  }
  /**
   * The process restarts after `downMs` down (no heartbeats meanwhile): a new store on the same
   * database, startup recovery behind its gate, and a submit that waits for it.
   */
  | { readonly op: "restart"; readonly downMs: number; readonly options: StartupOptions; readonly input: unknown }
  /**
   * Steps on distinct jobs at once (PostgreSQL's group commit and its other shared-statement paths),
   * after `claimFirst` claims one after another, so that moves find running jobs.
   */
  | { readonly op: "together"; readonly claimFirst: number; readonly steps: ReadonlyArray<Together> }
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

const programNode: fc.Arbitrary<ProgramNode> = fc.record({
  node_id: fc.constantFrom("plan", "call-model", "e\u0301crire", "🙂"),
  node_type: fc.constantFrom("llm", "tool"),
  input: fc.oneof(hostileJson, fc.constant(null)),
  end: fc.constantFrom<NodeEnd>("ok", "ok", "ok", "ok", "ok", "fail", "failCaught", "failCaught", "die", "open")
})

/** Numbers whose JSON text differs between writers (exponents, -0, the last safe integers, a sum's last digit). */
const edgeNumbers = [-0, 1e21, 1.5e-7, 5e-324, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 1.7976931348623157e308]

/** A program's output: hostile JSON, edge numbers, unicode text, nested arrays, null, or nothing (void). */
const programOutput: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileJson },
  fc.constantFrom(...edgeNumbers),
  fc.constantFrom(...texts, "\u2028\u2029 line separators", "\u202e right-to-left", "\ufeffbom"),
  fc.array(fc.oneof(fc.constantFrom(...edgeNumbers), fc.constantFrom(...texts), hostileJson), { maxLength: 3 }).map((items) => ({ items, nested: [[items]] })),
  fc.constant(null),
  fc.constant(undefined)
)

const program: fc.Arbitrary<Program> = fc.record({
  nodes: fc.array(programNode, { maxLength: 3 }),
  tookMs: fc.constantFrom(0, 0, 250, 4_000, 9_000),
  metrics: sometimes(fc.constantFrom<Record<string, number>>({ input_tokens: 10, output_tokens: 3 }, { total_tokens: 13, entities_read: 2 }, { duration_ms: 5 })),
  end: fc.oneof(
    { weight: 6, arbitrary: fc.constant<ProgramEnd>("ok") },
    { weight: 1, arbitrary: fc.constantFrom<ProgramEnd>("fail", "die", "violation", "interrupt", "unstorable", "taken") }
  ),
  output: programOutput
}).map((p) => (p.metrics === undefined ? { nodes: p.nodes, tookMs: p.tookMs, end: p.end, output: p.output } : p) as Program)

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
      delta: fc.constantFrom<Record<string, number>>(
        { input_tokens: 10 }, { output_tokens: 3, entities_read: 1 }, { duration_ms: -5 }, { input_tokens: 1.5 },
        { duration_ms: Number.MAX_SAFE_INTEGER }, { tokens_in: 10 } // the last a name that is no metric: refused
      )
    }).map((r): Op => ({ op: "addMetrics", ...r }))
  },
  {
    weight: 2,
    arbitrary: fc.record({
      // Mostly a job just claimed: a run needs a running job.
      job: fc.oneof({ weight: 1, arbitrary: jobRef }, { weight: 2, arbitrary: fc.nat({ max: 2 }).map((claimed): JobRef => ({ claimed })) }),
      program,
      onSuccess: sometimes(fc.constantFrom("completed_with_issues" as const, "awaiting_validation" as const))
    }).map(({ onSuccess, ...r }): Op => ({ op: "run", ...r, ...(onSuccess === undefined ? {} : { onSuccess }) }))
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kinds: sometimes(fc.subarray([...KINDS], { minLength: 1 }), 1),
      program,
      onSuccess: sometimes(fc.constantFrom("completed_with_issues" as const, "awaiting_validation" as const))
    }).map(({ kinds, onSuccess, ...r }): Op => ({ op: "work", ...r, ...(kinds === undefined ? {} : { kinds }), ...(onSuccess === undefined ? {} : { onSuccess }) }))
  },
  {
    weight: 1,
    arbitrary: fc.record({
      queue: fc.array(validRequest, { maxLength: 4 }),
      kinds: fc.oneof(fc.constant([...KINDS]), fc.subarray([...KINDS], { minLength: 1 })),
      programs: fc.array(program, { minLength: 1, maxLength: 4 }),
      polls: fc.integer({ min: 0, max: 3 })
    }).map((r): Op => ({ op: "drain", ...r }))
  },
  {
    weight: 1,
    arbitrary: fc.record({
      options: fc.record({
        // 0.5 s is refused (the event records whole seconds): the gate fails, and intake stays closed until the next restart.
        thresholdSecs: sometimes(fc.constantFrom(1, 5, 30, 0.5), 1),
        batchSize: sometimes(fc.constantFrom(1, 2)),
        concurrency: fc.constant(1 as const)
      }).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as StartupOptions),
      input: validRequest,
      downMs: fc.constantFrom(0, 6_000, 31_000)
    }).map((r): Op => ({ op: "restart", ...r }))
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
    ).chain((steps) => fc.nat({ max: steps.length }).map((claimFirst) => ({ steps, claimFirst }))).map(({ claimFirst, steps }): Op => ({
      op: "together",
      claimFirst,
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
  // An interrupt names fibers, whose ids are this process's: what a user sees is that it was one.
  if (Cause.isInterruptedOnly(exit.cause)) return { interrupted: true }
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

/** A program's own typed error. */
class ProgramFailed extends Schema.TaggedError<ProgramFailed>()("ProgramFailed", { where: Schema.String }) {}

/** How many of the TestClock's pending sleeps end at `deadline` (an interrupted sleep stays listed until the Clock passes it). */
const sleepsAt = (sleeps: Chunk.Chunk<number>, deadline: number): number => Chunk.reduce(sleeps, 0, (n, at) => (at === deadline ? n + 1 : n))

/**
 * Waits (in real time, a bounded while) until a sleep ending at `deadline(now)` is pending on the
 * TestClock more times than `before(deadline)` says were before: the point a fiber has reached
 * when it goes to sleep there. The deadline follows the Clock, which a program may move meanwhile.
 */
const sleepingUntil = (what: string, deadline: (now: number) => number, before: (deadline: number) => number) =>
  Effect.gen(function*() {
    const started = Date.now()
    while (Date.now() - started < WAIT_BOUND_MS) {
      const at = deadline(yield* Clock.currentTimeMillis)
      if (sleepsAt(yield* TestClock.sleeps(), at) > before(at)) {
        longestWaitMs = Math.max(longestWaitMs, Date.now() - started)
        return
      }
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 2)))
    }
    // Not the stores' answer but the harness's premise broken: the test fails on it (`waitsMissed`).
    waitsMissed.push(`${what} did not go to sleep within ${WAIT_BOUND_MS / 1000} s`)
  })

/** How long the harness waits (real time) for a fiber to go to sleep: a pool draining a long queue on a loaded machine takes seconds. */
const WAIT_BOUND_MS = 30_000
/** Waits of the harness that timed out, checked empty after each sequence. */
const waitsMissed: Array<string> = []
/** The longest of the harness's waits, for the report. */
let longestWaitMs = 0

/** `Jobs.run`'s heartbeat interval (its default): a program's own time stays under it. */
const HEARTBEAT_MS = 10_000
/** A pool's poll interval in the `drain` step; its runs beat once an hour, so no beat lands while it drains. */
const POLL_MS = 1_000
/** A drain's handler runs so many programs at most; then each call ends at once (a released job is claimed again at once). */
const MAX_DRAIN_CALLS = 12

/** The n of a name `id#n`. */
const nameOrder = (name: string): number => Number(name.slice(name.indexOf("#") + 1))

/**
 * Runs `p` as a job's program. `Jobs.run` beats at once, on its own fiber, concurrently with the
 * program (runJob.ts): whether that beat lands before the program moves the Clock is scheduling,
 * not behaviour. So a program first waits for the beat's fiber to go to sleep until the next one
 * (`firstBeat`: the deadline and how many sleeps ended there before the run), which it does once
 * the beat is written. A pool's run has no beat at once (its claim wrote the heartbeat).
 */
const runProgram = (
  p: Program,
  ctx: Jobs.RunContext,
  jobs: Context.Tag.Service<Jobs.Jobs>,
  firstBeat?: { readonly at: number; readonly before: number }
): Effect.Effect<unknown, unknown> =>
  Effect.gen(function*() {
    if (firstBeat !== undefined) yield* sleepingUntil("the run's first heartbeat", () => firstBeat.at, () => firstBeat.before)
    for (const node of p.nodes) {
      const spec = { node_id: node.node_id, node_type: node.node_type, ...(node.input === null ? {} : { input: node.input as never }) }
      const failure = new ProgramFailed({ where: `node ${node.node_id}` })
      switch (node.end) {
        case "ok":
          yield* ctx.node(spec, Effect.succeed({ done: node.node_id }))
          break
        case "fail":
          yield* ctx.node(spec, Effect.fail(failure))
          break
        case "failCaught":
          yield* Effect.either(ctx.node(spec, Effect.fail(failure)))
          break
        case "die":
          yield* ctx.node(spec, Effect.die(new Error(`node ${node.node_id} crashed`)))
          break
        case "open": {
          // Forked, and working once its start is written: the program's end interrupts it (the node ends cancelled).
          // A start that fails (bad input) fails the program, as an unforked node's would.
          const working = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(ctx.node(spec, Effect.zipRight(Deferred.succeed(working, undefined), Effect.never)))
          yield* Effect.raceFirst(Deferred.await(working), Fiber.join(fiber))
        }
      }
    }
    if (p.metrics !== undefined) yield* jobs.addMetrics(ctx.job.job_id, p.metrics)
    if (p.tookMs > 0) yield* TestClock.adjust(Duration.millis(p.tookMs))
    switch (p.end) {
      case "ok":
        return p.output
      case "fail":
        return yield* new ProgramFailed({ where: "the program" })
      case "die":
        return yield* Effect.die(new Error("the program crashed"))
      case "violation":
        return yield* ctx.securityViolation({ violation: "prompt_injection", detail: "found in e\u0301 input" })
      case "interrupt":
        return yield* Effect.interrupt
      case "unstorable":
        return { text: "nul \u0000 inside", at: [p.output ?? null] }
      case "taken":
        yield* jobs.cancel(ctx.job.job_id, { actor: "human", reason: "an operator took it mid-program" })
        yield* ctx.node({ node_id: "after-cancel", node_type: "tool" }, Effect.succeed({ never: "written" }))
        return { never: "returned" }
    }
  })

/** One process of the application: its store (opened anew on the same database) and its services. */
interface Process {
  readonly scope: Scope.CloseableScope
  readonly context: Context.Context<Jobs.Jobs | FlightRecorder.FlightRecorder | JobStore | Recovery.RecoveryGate>
  readonly jobs: Context.Tag.Service<Jobs.Jobs>
  readonly recorder: Context.Tag.Service<FlightRecorder.FlightRecorder>
  readonly store: Context.Tag.Service<JobStore>
}

const startProcess = (layer: Layer.Layer<JobStore, unknown>, gate: Layer.Layer<Recovery.RecoveryGate, never, JobStore>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(services(layer, gate, WakeUp.layerPollOnly, { retry }), scope).pipe(
      Effect.tapErrorCause(() => Scope.close(scope, Exit.void))
    )
    return {
      scope,
      context,
      jobs: Context.get(context, Jobs.Jobs),
      recorder: Context.get(context, FlightRecorder.FlightRecorder),
      store: Context.get(context, JobStore)
    } satisfies Process
  })

const runOn = (layer: Layer.Layer<JobStore, unknown>, ops: ReadonlyArray<Op>, randomSeed: number): Effect.Effect<Observed, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    yield* TestClock.setTime(T0)
    let proc: Process = yield* startProcess(layer, Recovery.layerNoStartupRecovery)
    yield* Effect.addFinalizer(() => Scope.close(proc.scope, Exit.void))
    const names = new Names()
    const steps: Array<unknown> = []

    /** A run seen before, by its order of first appearance (the latest first), or one that does not exist. */
    const runOf = (n: number): WorkflowRunId =>
      (names.runs.length === 0 ? UNKNOWN_ID : names.runs[names.runs.length - 1 - (n % names.runs.length)]!) as WorkflowRunId

    /** The trace id of a job (read through the API), or one no job has. */
    const traceOf = (ref: JobRef) =>
      Effect.map(Effect.option(proc.jobs.get(resolveJob(ref, names))), (job) => job._tag === "Some" ? job.value.trace_id : UNKNOWN_ID as TraceId)

    /** `Jobs.run` of `p` on the job, as a caller runs a job it claimed or started. */
    const runNow = (jobId: JobId, p: Program, onSuccess: Jobs.RunOptions["onSuccess"]) =>
      Effect.gen(function*() {
        const at = (yield* Clock.currentTimeMillis) + HEARTBEAT_MS
        const before = sleepsAt(yield* TestClock.sleeps(), at)
        const jobs = proc.jobs
        return yield* jobs.run(
          jobId,
          (ctx) => runProgram(p, ctx, jobs, { at, before }) as Effect.Effect<never, unknown>,
          onSuccess === undefined ? undefined : { onSuccess }
        )
      })

    /**
     * One pool loop (`Jobs.worker`, concurrency 1, polling) with handlers for `kinds` drains the
     * queue: the handler's n-th call runs program n (modulo how many). The loop is idle once it has
     * gone to sleep until its next poll (a sleep ending a poll from now, more than were pending
     * before the pool started); then the Clock moves one poll, `polls` times, and the pool closes.
     * One loop claims in the order the README promises (highest priority, then eligible longest,
     * then oldest), so the order of its calls is behaviour, compared like the rest.
     */
    const drain = (o: Extract<Op, { readonly op: "drain" }>) =>
      Effect.scoped(Effect.gen(function*() {
        const queued: Array<unknown> = []
        for (const request of o.queue) {
          const submitted = yield* Effect.exit(proc.jobs.submitUntrusted(request))
          if (Exit.isSuccess(submitted)) remember(submitted.value, names)
          queued.push(observe(submitted, names))
        }
        const calls: Array<{ readonly job_id: string; readonly attempt: number }> = []
        const pending = yield* TestClock.sleeps()
        const jobs = proc.jobs
        // Open while the Clock is not being moved here. A poll that fires inside `TestClock.adjust`
        // resumes the loop before the adjust has ended, and the adjust ends by setting the Clock to
        // its end: a program that moved the Clock meanwhile would see it moved back. So a program
        // starts once the adjust that woke its loop has ended.
        let clockStill = yield* Deferred.make<void>()
        yield* Deferred.succeed(clockStill, undefined)
        const handler = (ctx: Jobs.RunContext) =>
          Effect.suspend(() => {
            const p = o.programs[calls.length % o.programs.length]!
            calls.push({ job_id: ctx.job.job_id, attempt: ctx.job.attempt })
            // A job released (interrupt) is claimed again at once: after so many calls, each ends at once.
            const program = calls.length > MAX_DRAIN_CALLS ? Effect.succeed({ enough: true }) : runProgram(p, ctx, jobs)
            return Effect.zipRight(Deferred.await(clockStill), program) as Effect.Effect<never, unknown>
          })
        yield* jobs.worker({
          concurrency: 1,
          pollInterval: Duration.millis(POLL_MS),
          run: { heartbeatInterval: Duration.hours(1) },
          handlers: Object.fromEntries(o.kinds.map((kind) => [kind, handler])) as Jobs.Handlers<unknown, never>
        })
        const idle = sleepingUntil("the pool's idle loop", (now) => now + POLL_MS, (at) => sleepsAt(pending, at))
        yield* idle
        for (let i = 0; i < o.polls; i++) {
          clockStill = yield* Deferred.make<void>()
          yield* TestClock.adjust(Duration.millis(POLL_MS))
          yield* Deferred.succeed(clockStill, undefined)
          yield* idle
        }
        return { queued, calls }
      }))

    /**
     * The process restarts: the store opened anew on the same database, and startup recovery behind
     * its gate (`Recovery.layerStartup`). A submit made at once waits for the gate; the gate's report
     * and the submit's answer are compared. The report lists runs in the order the store stalled them
     * (oldest heartbeat, then id, with one scan at a time); with the default concurrency two scans
     * race for the runs on PostgreSQL, so the report is compared sorted, and the recovery records
     * (one instant, ids in the racing scans' order) are named in the sorted report's order and
     * compared in that order (`recoveriesInRunOrder`).
     */
    const restart = (o: Extract<Op, { readonly op: "restart" }>) =>
      Effect.gen(function*() {
        yield* Scope.close(proc.scope, Exit.void)
        yield* TestClock.adjust(Duration.millis(o.downMs))
        const { batchSize, concurrency, thresholdSecs } = o.options
        proc = yield* startProcess(
          layer,
          Recovery.layerStartup({
            ...(thresholdSecs === undefined ? {} : { threshold: Duration.millis(thresholdSecs * 1000) }),
            ...(batchSize === undefined ? {} : { batchSize }),
            ...(concurrency === undefined ? {} : { concurrency })
          })
        )
        const gate = Context.get(proc.context, Recovery.RecoveryGate)
        const submitting = yield* Effect.fork(Effect.exit(proc.jobs.submitUntrusted(o.input)))
        const report = yield* Effect.exit(gate.result)
        const submitted = yield* Fiber.join(submitting)
        if (Exit.isSuccess(submitted)) remember(submitted.value, names)
        if (concurrency === undefined && Exit.isSuccess(report)) {
          const sorted = [...report.value.recovered].sort((a, b) => nameOrder(names.name(a.id)) - nameOrder(names.name(b.id)))
          const at = DateTime.toEpochMillis(yield* DateTime.now)
          const records = (yield* proc.store.listEvents({ types: ["workflow_recovery"], since: DateTime.unsafeMake(at), limit: 1000 })).items
          for (const run of sorted) {
            for (const record of records) if (record.workflow_run_id === run.id) names.name(record.event_id)
          }
          return { gate: observe(Exit.succeed({ ...report.value, recovered: sorted }), names), submit: observe(submitted, names) }
        }
        return { gate: observe(report, names), submit: observe(submitted, names) }
      })

    /** Steps at once on distinct jobs; skipped (and said so) where their outcome would be a race. */
    const together = (steps: ReadonlyArray<Together>): Effect.Effect<unknown, unknown> =>
      Effect.gen(function*() {
        // Distinct jobs only (a heartbeat's is its run's): two steps on one job race, and a race has no one right answer.
        const targets = steps.map((t) =>
          t.op === "move" || t.op === "fail" ? resolveJob(t.job, names) : t.op === "heartbeat" ? names.jobOfRun.get(runOf(t.run)) ?? UNKNOWN_ID : undefined)
        const named = targets.filter((t) => t !== undefined)
        if (new Set(named).size !== named.length) return "skipped: two steps on one job"
        // Moves of running jobs only. Steps at once write their records at one instant, so the
        // records list in the order of their event ids, made as each step gets to it: a move of
        // a running job and a submit make theirs before any I/O, the same on both stores; a move
        // of a job in any other state reads the job first, so its id's place is the database's
        // latency. The state is peeked here, outside what is compared.
        for (const [i, t] of steps.entries()) {
          if (t.op !== "move" && t.op !== "fail") continue
          const job = yield* Effect.option(proc.store.getJob(targets[i] as JobId))
          if (job._tag === "None" || job.value.state !== "running") return `skipped: step ${i}'s job is not running`
        }
        return yield* Effect.all(steps.map((t) => Effect.exit(step(t))), { concurrency: "unbounded" })
          .pipe(Effect.map((exits) => exits.map((exit) => observe(exit, names))))
      })

    const step = (o: Op | Together): Effect.Effect<unknown, unknown> => {
      switch (o.op) {
        case "advance":
          return TestClock.adjust(Duration.millis(o.ms))
        case "submit":
          return proc.jobs.submitUntrusted(o.input)
        case "submitMany":
          return proc.jobs.submitMany(o.inputs as ReadonlyArray<JobRequestInput>)
        case "claimNext":
          return proc.jobs.claimNext(o.kinds === undefined ? undefined : { kinds: o.kinds })
        case "begin":
          return proc.jobs[o.how](resolveJob(o.job, names))
        case "move":
          return proc.jobs[o.how](resolveJob(o.job, names), o.reason === undefined ? undefined : { reason: o.reason })
        case "fail":
          return proc.jobs.fail(resolveJob(o.job, names), o.error)
        case "pin":
          return o.pinned ? proc.jobs.pin(resolveJob(o.job, names)) : proc.jobs.unpin(resolveJob(o.job, names))
        case "addMetrics":
          return proc.jobs.addMetrics(resolveJob(o.job, names), o.delta)
        case "run":
          return runNow(resolveJob(o.job, names), o.program, o.onSuccess)
        case "work":
          return Effect.gen(function*() {
            const claim = yield* proc.jobs.claimNext(o.kinds === undefined ? undefined : { kinds: o.kinds })
            if (claim === null) return { claim }
            remember(claim, names)
            return { claim, run: observe(yield* Effect.exit(runNow(claim.job.job_id, o.program, o.onSuccess)), names) }
          })
        case "drain":
          return drain(o)
        case "restart":
          return restart(o)
        case "heartbeat":
          return proc.store.heartbeat(runOf(o.run))
        case "record":
          return proc.recorder.recordUntrusted(o.event)
        case "recordMany":
          return proc.recorder.recordManyUntrusted(o.events)
        case "get":
          return proc.jobs.get(resolveJob(o.job, names))
        case "history":
          return proc.jobs.history(resolveJob(o.job, names))
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
            const first = yield* proc.jobs.list(traced)
            // The next page through the first page's cursor, as a user pages on.
            const second = first.next_cursor === null ? null : yield* proc.jobs.list({ ...traced, cursor: first.next_cursor })
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
            const first = yield* proc.recorder.list(traced)
            const second = first.next_cursor === null ? null : yield* proc.recorder.list({ ...traced, cursor: first.next_cursor })
            return { first, second }
          })
        case "together":
          return Effect.gen(function*() {
            const claims: Array<unknown> = []
            for (let i = 0; i < o.claimFirst; i++) {
              const claim = yield* proc.jobs.claimNext()
              remember(claim, names)
              claims.push(observe(Exit.succeed(claim), names))
            }
            return { claims, together: yield* together(o.steps) }
          })
        case "recover":
          // One scan at a time, SQLite's default. PostgreSQL's default is two at once, "each batch in its
          // own transaction on its own connection" (Recovery.ts, RecoveryOptions.concurrency): which of
          // them stalls which run is then the lock race's, and with it the report's order and the order
          // of the recovery records of one instant (seen here: two runs of one heartbeat, swapped).
          return Recovery.recoverStalledRuns({ threshold: Duration.seconds(o.thresholdSecs), concurrency: 1 }).pipe(Effect.provide(proc.context))
        case "prune":
          return Janitor.runOnce({ olderThan: Duration.seconds(o.olderThanSecs), keepNewest: o.keepNewest, dryRun: o.dryRun })
            .pipe(Effect.provide(proc.context))
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
        const page = yield* proc.jobs.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
        for (const job of page.items) all.push(yield* proc.jobs.history(job.job_id))
        cursor = page.next_cursor ?? undefined
      } while (cursor !== undefined)
      const events: Array<unknown> = []
      cursor = undefined
      do {
        const page: { readonly items: ReadonlyArray<unknown>; readonly next_cursor: string | null } = yield* proc.recorder.list({
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

type Observation = Record<string, unknown>

/** What an answer was, for the report: ok, a defect, an interrupt, or an error by its tag. */
const kindOf = (observed: Observation): string => {
  if ("ok" in observed) return "ok"
  if ("interrupted" in observed) return "interrupted"
  const error = observed["error"] as { readonly _tag?: unknown } | string | undefined
  return error === undefined ? "defect" : typeof error === "string" ? "error (the program's own)" : `error ${String(error._tag)}`
}

/** An answer's kind, and for the composite steps what happened inside (so the report shows what was reached). */
const outcomeOf = (o: Op, observed: Observation): string => {
  const kind = kindOf(observed)
  const ok = observed["ok"] as Observation | undefined
  if (ok === undefined) return kind
  switch (o.op) {
    case "work":
      return ok["claim"] === null ? "ok, nothing to claim" : `ok, run ${kindOf(ok["run"] as Observation)}`
    case "together":
      return Array.isArray(ok["together"]) ? "ok, ran together" : "ok, skipped"
    case "drain": {
      const calls = (ok["calls"] as ReadonlyArray<unknown>).length
      return calls === 0 ? "ok, no call" : calls > MAX_DRAIN_CALLS ? "ok, more than the calls allowed" : "ok, calls made"
    }
    case "restart": {
      const gate = ok["gate"] as Observation
      const recovered = ((gate["ok"] as Observation | undefined)?.["recovered"] as ReadonlyArray<unknown> | undefined)?.length ?? 0
      return `ok, gate ${kindOf(gate)}${recovered > 0 ? " having recovered runs" : ""}, submit ${kindOf(ok["submit"] as Observation)}`
    }
    default:
      return kind
  }
}

/**
 * The state read back, with each run of `workflow_recovery` records of one instant listed in the
 * order of their (normalised) event ids: the order the restart step named them in, by run. Racing
 * scans write them in the race's order; everything else stays as read.
 */
const recoveriesInRunOrder = (final: unknown): unknown => {
  const ok = (final as Observation)["ok"] as Observation | undefined
  const events = ok?.["events"] as ReadonlyArray<Observation> | undefined
  if (ok === undefined || events === undefined) return final
  const isRecovery = (event: Observation | undefined) => event?.["type"] === "workflow_recovery"
  const sorted: Array<Observation> = []
  for (let i = 0; i < events.length;) {
    let j = i + 1
    if (isRecovery(events[i])) while (j < events.length && isRecovery(events[j]) && events[j]!["timestamp"] === events[i]!["timestamp"]) j++
    sorted.push(...events.slice(i, j).sort((a, b) => nameOrder(String(a["event_id"])) - nameOrder(String(b["event_id"]))))
    i = j
  }
  return { ...(final as Observation), ok: { ...ok, events: sorted } }
}

const describeOp = (o: Op): string => JSON.stringify(o, (_k, v) => typeof v === "string" && v.length > 40 ? `${v.slice(0, 40)}…(${v.length})` : v)

const sqliteLayer = Effect.sync(() => SqliteStore.layer({ filename: tempSqliteFile("differential") }))
const pgLayer = (options: Omit<PgStore.PgStoreOptions, "url">) => Effect.map(freshPgDatabase("differential"), (url) => PgStore.layer({ url, ...options }))

/**
 * The PostgreSQL store's statement modes. Every sequence runs on the defaults (named prepared
 * statements, group commit); every fourth one once more in another mode, in turn: statements sent
 * unnamed (behind a pooler that cannot keep them), named with two kept per connection, so
 * statements are closed and prepared again all along, or every call sent alone (`coalesce: false`:
 * the `together` steps then reach the store's uncoalesced paths at once). SQLite must agree with each.
 */
const PG_MODES: ReadonlyArray<{ readonly name: string; readonly options: Omit<PgStore.PgStoreOptions, "url"> }> = [
  { name: "PostgreSQL", options: {} },
  { name: "PostgreSQL without named prepared statements", options: { preparedStatements: false } },
  { name: "PostgreSQL keeping two named statements per connection", options: { maxPreparedStatements: 2 } },
  { name: "PostgreSQL with coalesce: false", options: { coalesce: false } }
]
/** Sequences 1, 5, 9, … run once more, in the other modes in turn. */
const modesOf = (s: number) => (s % 4 !== 1 ? [PG_MODES[0]!] : [PG_MODES[0]!, PG_MODES[1 + ((s - 1) / 4) % (PG_MODES.length - 1)]!])

describe("reliability: SQLite and PostgreSQL answer a user alike", () => {
  const sequences = fc.sample(fc.array(op, { minLength: STEPS, maxLength: STEPS }), { numRuns: SEQUENCES, seed: SEED })

  it.live(`R17 ${SEQUENCES} generated sequences of ${STEPS} public operations give the same answers and leave the same state on SQLite and PostgreSQL, in each of its statement modes (seed ${SEED})`, () =>
    Effect.gen(function*() {
      const outcomes: Record<string, number> = {}
      const modes: Record<string, number> = {}
      for (const [s, ops] of sequences.entries()) {
        const sqlite = yield* Effect.scoped(Effect.flatMap(sqliteLayer, (layer) => runOn(layer, ops, SEED + s)))
        for (const [i, o] of ops.entries()) {
          const kind = outcomeOf(o, sqlite.steps[i] as Observation)
          outcomes[`${o.op} ${kind}`] = (outcomes[`${o.op} ${kind}`] ?? 0) + 1
        }
        for (const mode of modesOf(s)) {
          modes[mode.name] = (modes[mode.name] ?? 0) + 1
          const pg = yield* Effect.scoped(Effect.flatMap(pgLayer(mode.options), (layer) => runOn(layer, ops, SEED + s)))
          const dump = process.env["HSK_DIFFERENTIAL_DUMP"]
          if (dump !== undefined && dump !== "") {
            fs.writeFileSync(`${dump}-${s}${mode === PG_MODES[0] ? "" : `-mode-${PG_MODES.indexOf(mode)}`}.json`, JSON.stringify({ ops, sqlite, pg }, null, 1))
          }
          assert.deepStrictEqual(waitsMissed, [], `seed ${SEED}, sequence ${s}: the harness's waits`)
          for (const [i, o] of ops.entries()) {
            assert.deepStrictEqual(
              pg.steps[i],
              sqlite.steps[i],
              `seed ${SEED}, sequence ${s}, step ${i}: ${describeOp(o)} — ${mode.name}'s answer (actual) differs from SQLite's (expected)` +
                ` (HSK_DIFFERENTIAL_DUMP=<path prefix> writes each sequence's steps and both stores' observations)`
            )
          }
          assert.deepStrictEqual(pg.final, sqlite.final, `seed ${SEED}, sequence ${s}: the state read back after all ${ops.length} steps differs — ${mode.name} (actual), SQLite (expected)`)
        }
      }
      report("differential", { seed: SEED, sequences: SEQUENCES, steps: STEPS, modes, longestWaitMs, outcomes: Object.fromEntries(Object.entries(outcomes).sort()) })
    }), 600_000)

  /**
   * Startup recovery with the store's own defaults: on PostgreSQL two scans at once, each batch in
   * its own transaction, racing for the stale runs (batches of one make them take turns). Which
   * scan stalls which run is the race's, so the gate's report is compared as a set (sorted by
   * run) and the recovery records of the instant in the same order; everything else exactly.
   * (The report's own order — oldest heartbeat first, then id — is held on both stores by
   * test/jobs/jobs.suite.ts; ids differ from store to store, so runs with one heartbeat could
   * tie-break differently here.)
   */
  it.live("R9 startup recovery with each store's default scans stalls the same runs, reports them, records them and then lets the waiting submit in, on SQLite and PostgreSQL", () =>
    Effect.gen(function*() {
      const request = { job_kind: "doc_summarize", protocol_id: "hsk.diff.v1", profile_id: "tester", access_mode: "analysis_only", safety_mode: "normal" }
      const submit = (priority: number): Op => ({ op: "submit", input: { ...request, priority } })
      const claim: Op = { op: "claimNext" }
      const ops: ReadonlyArray<Op> = [
        ...[0, 1, 0, 2, 0, 1, 0, 0, 1, 0].map(submit),
        claim,
        claim,
        claim,
        { op: "advance", ms: 5_000 },
        claim,
        claim,
        { op: "heartbeat", run: 0 },
        { op: "advance", ms: 40_000 },
        claim,
        // Four runs stale (one beat since), one fresh: all four stalled by two racing scans.
        { op: "restart", downMs: 0, options: {}, input: { ...request, priority: 3 } },
        claim,
        claim,
        claim,
                // Down 31 s, then batches of one: the scans take turns run by run.
        { op: "restart", downMs: 31_000, options: { batchSize: 1 }, input: request },
        { op: "get", job: { known: 3 } }
      ]
      const sqlite = yield* Effect.scoped(Effect.flatMap(sqliteLayer, (layer) => runOn(layer, ops, SEED)))
      const pg = yield* Effect.scoped(Effect.flatMap(pgLayer({}), (layer) => runOn(layer, ops, SEED)))
      assert.deepStrictEqual(waitsMissed, [])
      for (const [i, o] of ops.entries()) {
        assert.deepStrictEqual(pg.steps[i], sqlite.steps[i], `step ${i}: ${describeOp(o)} — PostgreSQL's answer (actual) differs from SQLite's (expected)`)
      }
      const recovered = ops.flatMap((o, i) => o.op === "restart" ? [outcomeOf(o, sqlite.steps[i] as Observation)] : [])
      assert.deepStrictEqual(recovered, ["ok, gate ok having recovered runs, submit ok", "ok, gate ok having recovered runs, submit ok"])
      assert.deepStrictEqual(recoveriesInRunOrder(pg.final), recoveriesInRunOrder(sqlite.final), "the state read back — PostgreSQL (actual), SQLite (expected)")
      // R9: no job is accepted until the scan has finished. The waiting submit's records come after
      // the scan's, at the same instant, so their ids (made as each is written) were made after.
      for (const [name, observed] of [["SQLite", sqlite], ["PostgreSQL", pg]] as const) {
        const events = ((observed.final as Observation)["ok"] as Observation)["events"] as ReadonlyArray<Observation>
        for (const [i, o] of ops.entries()) {
          if (o.op !== "restart") continue
          const answer = (observed.steps[i] as Observation)["ok"] as Observation
          const submitted = ((answer["submit"] as Observation)["ok"] as Observation)["job_id"]
          const recovered = (((answer["gate"] as Observation)["ok"] as Observation)["recovered"] as ReadonlyArray<Observation>)
            .map((run) => run["id"])
          const lastRecord = events.reduce((last, event, at) => event["type"] === "workflow_recovery" && recovered.includes(event["workflow_run_id"]) ? at : last, -1)
          const firstOfSubmit = events.findIndex((event) => event["job_id"] === submitted)
          assert.isAbove(lastRecord, -1, `${name}, step ${i}: the scan's records`)
          assert.isAbove(firstOfSubmit, lastRecord, `${name}, step ${i}: the waiting submit's first record comes after the scan's last`)
        }
      }
    }), 120_000)
})
