/**
 * Test fixtures for the JobStore contract suite: valid inputs built through
 * the domain schemas, comparisons on encoded values, and small helpers to put
 * a job into a given state by a legal path.
 */
import { assert } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { AiJob, NewAiJob, type NewAiJobInput } from "../../src/domain/AiJob.js"
import { EventRecord, type EventType } from "../../src/domain/EventRecord.js"
import { instantBefore } from "../../src/domain/Timestamp.js"
import { EventId, JobId, NodeExecutionId, TraceId, WorkflowRunId } from "../../src/domain/Ids.js"
import type { JobState } from "../../src/domain/JobState.js"
import type { TransitionTarget } from "../../src/domain/Lifecycle.js"
import { NodeExecution, WorkflowRun } from "../../src/domain/WorkflowRun.js"
import type { Json } from "../../src/domain/Json.js"
import { JobStore, type StalledRun } from "../../src/store/JobStore.js"
import { validEvents } from "../flight/fixtures.js"

/** An instant `ms` milliseconds after the epoch (TestClock time). */
export const at = (ms: number): DateTime.Utc => DateTime.unsafeMake(ms)

/** Milliseconds since the epoch of an instant. */
export const millis = (dateTime: DateTime.DateTime): number => DateTime.toEpochMillis(dateTime)

/** The stale-run threshold recovery uses by default (R9): 30 seconds. */
export const STALE_MS = 30_000

/** The heartbeat bound of a stale-run scan at the Clock's now: `age` (default `STALE_MS`) ago. */
export const staleBefore = (age: Duration.DurationInput = STALE_MS): Effect.Effect<DateTime.Utc> =>
  Effect.map(DateTime.now, (now) => instantBefore(now, Duration.decode(age)))

/** The time options of `stallStaleRuns` at the Clock's now, for a threshold of `age` (default `STALE_MS`). */
export const staleOptions = (age: Duration.DurationInput = STALE_MS) =>
  Effect.map(staleBefore(age), (heartbeatBefore) => ({ heartbeatBefore, threshold: Duration.decode(age) }))

/** Fresh ids, one per kind. */
export const ids = {
  job: (): JobId => JobId.make(crypto.randomUUID()),
  trace: (): TraceId => TraceId.make(crypto.randomUUID()),
  run: (): WorkflowRunId => WorkflowRunId.make(crypto.randomUUID()),
  node: (): NodeExecutionId => NodeExecutionId.make(crypto.randomUUID()),
  event: (): EventId => EventId.make(crypto.randomUUID())
}

const decodeNewJob = Schema.decodeUnknownSync(NewAiJob)

/** A valid `NewAiJob`, decoded from literal input so defaults and the kind alias apply as for a caller. */
export const newJob = (overrides: Partial<NewAiJobInput> = {}): NewAiJob =>
  decodeNewJob({
    job_kind: "doc_summarize",
    protocol_id: "hsk.test.v0",
    profile_id: "test-profile",
    capability_profile_id: "Analyst",
    access_mode: "analysis_only",
    safety_mode: "normal",
    ...overrides
  })

/** The envelope keys of an event's body: the record's own columns. */
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(["event_id", "timestamp", "actor", "type", "trace_id", "job_id", "workflow_run_id"])

/** The fields of a valid event of `type` beyond its envelope (a `system` one: a Janitor pass's summary, which may name a job or none). */
const payloadOf = (type: EventType): Record<string, unknown> =>
  type === "system"
    ? {
      event_type: "meta.gc_summary",
      event_name: "gc_summary",
      items_scanned: 1,
      items_pruned: 1,
      items_spared_pinned: 0,
      items_spared_window: 0,
      dry_run: false
    }
    : Object.fromEntries(Object.entries(validEvents[type]).filter(([key]) => !ENVELOPE_KEYS.has(key)))

/**
 * A valid `EventRecord` with fresh ids, its body an event of its type as the
 * Flight Recorder would build it (the port refuses a body that is no event):
 * the record's envelope, then `body` when given, else a valid payload of the
 * type (flight/fixtures.ts).
 */
export const eventRecord = (overrides: Partial<EventRecord> = {}): EventRecord => {
  const envelope = {
    event_id: ids.event(),
    timestamp: at(0),
    actor: "system" as const,
    type: "system" as const,
    trace_id: ids.trace(),
    job_id: null,
    workflow_run_id: null,
    ...overrides
  }
  const body = {
    event_id: envelope.event_id,
    timestamp: DateTime.formatIso(envelope.timestamp),
    actor: envelope.actor,
    type: envelope.type,
    trace_id: envelope.trace_id,
    job_id: envelope.job_id,
    workflow_run_id: envelope.workflow_run_id,
    ...(overrides.body ?? payloadOf(envelope.type))
  }
  return { ...envelope, body }
}

/** A UUIDv7 as a process whose clock reads `ms` mints it: a host's clock ahead or behind this one's. */
export const idMintedAt = (ms: number): EventId => {
  const hex = ms.toString(16).padStart(12, "0")
  return EventId.make(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000001`)
}

/** An event about `job` (its trace and job id), at `ms`. */
export const jobEvent = (job: Pick<AiJob, "job_id" | "trace_id" | "workflow_run_id">, overrides: Partial<EventRecord> = {}): EventRecord =>
  eventRecord({ trace_id: job.trace_id, job_id: job.job_id, workflow_run_id: job.workflow_run_id, ...overrides })

/**
 * A fresh job and `createClaimed`'s options for it (issue 16, eager dispatch):
 * two records for its creation, two for its claim, kinds `doc_summarize`.
 */
export const createClaimedCall = () => {
  const job = newJob({ job_id: ids.job(), trace_id: ids.trace() })
  const subject = { job_id: job.job_id!, trace_id: job.trace_id!, workflow_run_id: null }
  const runId = ids.run()
  return [job, {
    events: [jobEvent(subject), jobEvent(subject)],
    kinds: ["doc_summarize"],
    claim: { run_id: runId, records: [jobEvent(subject), jobEvent({ ...subject, workflow_run_id: runId })] }
  }] as const
}

/** Encoded forms: plain JSON-like values that compare with deepStrictEqual regardless of class instances. */
const encodeJob = Schema.encodeSync(AiJob)
const encodeRun = Schema.encodeSync(WorkflowRun)
const encodeNode = Schema.encodeSync(NodeExecution)
const encodeEvent = Schema.encodeSync(EventRecord)
export const encode = {
  job: (job: AiJob) => encodeJob(job),
  run: (run: WorkflowRun) => encodeRun(run),
  node: (node: NodeExecution) => encodeNode(node),
  event: (event: EventRecord) => encodeEvent(event)
}

/** Events encoded and sorted by event_id: compares sets of events, whatever order they come back in. */
export const byEventId = (events: ReadonlyArray<EventRecord>) =>
  events.map(encode.event).sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))

/** The typed failure of `effect`; fails the test if it succeeds or dies. */
export const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<E, never, R> =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return assert.fail(`expected a typed failure, got success: ${String(JSON.stringify(exit.value))}`)
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "None") return assert.fail(`expected a typed failure, got: ${Cause.pretty(exit.cause)}`)
    return failure.value
  })

/** The `_tag` of a tagged error, or "(untagged)". */
export const tagOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" ? error._tag : "(untagged)"

/** Asserts that `error` is tagged `tag` and returns it narrowed. */
export const expectTag = <E, T extends string>(error: E, tag: T): Extract<E, { readonly _tag: T }> => {
  assert.strictEqual(tagOf(error), tag, `expected ${tag}, got ${tagOf(error)}: ${String(error)}`)
  return error as Extract<E, { readonly _tag: T }>
}

/** A legal path from `queued` to each state but `stalled` (which only recovery writes). */
export const pathTo: { readonly [S in Exclude<JobState, "stalled">]: ReadonlyArray<TransitionTarget> } = {
  queued: [],
  running: ["running"],
  awaiting_validation: ["running", "awaiting_validation"],
  awaiting_user: ["running", "awaiting_validation", "awaiting_user"],
  completed: ["running", "completed"],
  completed_with_issues: ["running", "completed_with_issues"],
  failed: ["running", "failed"],
  cancelled: ["cancelled"],
  poisoned: ["running", "poisoned"]
}

/** The refusal of job `job_id` pointed at workflow run `run`, job `owner`'s: PostgreSQL's words, SQLite's too (migration 0030). */
export const pointedAtOther = (job_id: string, run: string, owner: string) =>
  `ai_jobs_workflow_run_of_job: job "${job_id}"'s workflow_run_id names workflow run "${run}", which is job "${owner}"'s run, not its own`

/** Creates a job with a `running` run and moves the job to `running` pointing at it. */
export const startedJob = (overrides: Partial<NewAiJobInput> = {}) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    const created = yield* store.createJob(newJob(overrides))
    const run = yield* store.createRun(created.job_id)
    const job = yield* store.transition({ job_id: created.job_id, to: "running", workflow_run_id: run.id })
    return { job, run }
  })

/** A queued job created on `store` and claimed: the job running under its new run. */
export const claimedOn = (store: JobStore["Type"]) =>
  Effect.gen(function*() {
    yield* store.createJob(newJob())
    const claim = yield* store.claimNext()
    if (claim === null) return yield* Effect.dieMessage("setup: a claim")
    return claim
  })

/**
 * Creates `count` jobs and brings each to `state` by a legal path. `stalled`
 * goes the only way it can: running runs whose heartbeat goes stale, moved by
 * `stallStaleRuns` after the TestClock passes the threshold.
 */
export const jobsIn = (state: JobState, count: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    if (state === "stalled") {
      const started = yield* Effect.forEach(Array.from({ length: count }), () => startedJob())
      yield* TestClock.adjust(STALE_MS + 1_000)
      const moved = yield* store.stallStaleRuns({ ...(yield* staleOptions()), limit: count + 10 })
      assert.strictEqual(moved.length, count, "setup: every started run goes stale")
      return yield* Effect.forEach(started, ({ job }) => store.getJob(job.job_id))
    }
    return yield* Effect.forEach(Array.from({ length: count }), () =>
      Effect.gen(function*() {
        let job = yield* store.createJob(newJob())
        for (const to of pathTo[state]) job = yield* store.transition({ job_id: job.job_id, to })
        assert.strictEqual(job.state, state, "setup: job reaches the state by a legal path")
        return job
      }))
  })

/** The recovery event R9 asks for, one per moved run. */
export const recoveryEvent = ({ run, trace_id }: StalledRun): ReadonlyArray<EventRecord> => [
  eventRecord({
    type: "workflow_recovery",
    actor: "system",
    trace_id,
    job_id: run.job_id,
    workflow_run_id: run.id,
    body: {
      type: "workflow_recovery",
      workflow_run_id: run.id,
      job_id: run.job_id,
      from_state: "running",
      to_state: "stalled",
      reason: "heartbeat stale",
      last_heartbeat_ts: DateTime.formatIso(run.last_heartbeat),
      threshold_secs: STALE_MS / 1000
    }
  })
]

/** The `events` of `stallStaleRuns`: one `workflow_recovery` record per moved run. */
export const recoveryEvents = (moved: ReadonlyArray<StalledRun>): ReadonlyArray<EventRecord> => moved.flatMap(recoveryEvent)

/** A payload's size as the library writes it: the bytes of its compact JSON text. */
export const bytesOf = (payload: Json): number => Buffer.byteLength(JSON.stringify(payload))

/**
 * Payloads whose compact JSON text jsonb's text form would misstate: 14 × 1e300
 * (99 bytes; jsonb spells each in 301 digits), one with spaces, escapes,
 * multibyte text and numbers JavaScript writes in exponent form, and that
 * one padded to exactly 4096 bytes (the operator views' bound).
 */
export const payloadSizeCases = (): ReadonlyArray<readonly [node_id: string, payload: Json]> => {
  const mixed = (pad: string): Json => ({
    "a b": "x, y: z",
    "é\"\\": `ü\n\t\u0001🙂${pad}`,
    nums: [0, -0.5, 1.5e-7, 1e-7, 1e21, 123456789, 2 ** 53, -1.7976931348623157e308, true, null, {}, []],
    nested: { "k": [{ "x": 1, "y": "\u2028/" }] }
  })
  return [
    ["huge", Array.from({ length: 14 }, () => 1e300)],
    ["mixed", mixed("")],
    ["at-bound", mixed("p".repeat(4096 - bytesOf(mixed(""))))]
  ]
}
