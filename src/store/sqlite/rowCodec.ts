/**
 * Hand-built row codecs for the hot path (issue 16: the Schema row decode
 * and encode cost 15–50 µs each, about ten times per job).
 *
 * Decoding is still strict, in two tiers: `fastJob`/`fastRun` check every
 * column by hand and build the domain value only when each column is in the
 * form the store itself writes (canonical ids, the one timestamp form, the
 * canonical kind, …). Anything else — a legacy alias, an upper-case id, a
 * corrupt column — gives `undefined`, and the caller falls back to the full
 * row Schema (rows.ts), which decodes it or names the bad column in a
 * `CorruptRow`. So the fast tier accepts only rows the Schema accepts, and
 * gives the same value (test/store/sqlite-row-codec.test.ts checks both).
 *
 * Encoding takes values the port has already decoded (every argument is
 * decoded at the port, internal/portInput.ts), so it only changes their form:
 * timestamps to the stored text, JSON to text, booleans to 0/1.
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { type AiJob, EntityRef, PlannedOperation } from "../../domain/AiJob.js"
import type { EventRecord } from "../../domain/EventRecord.js"
import type { JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import { JobKinds } from "../../domain/JobKind.js"
import { JobMetrics, metricsInStoredForm } from "../../domain/JobMetrics.js"
import { AccessModes, JobStates, SafetyModes } from "../../domain/JobState.js"
import { checkedJson, type Json } from "../../domain/Json.js"
import { BackoffMillis, MAX_ATTEMPTS_LIMIT } from "../../domain/RetryPolicy.js"
import { isStorable } from "../../domain/Text.js"
import { TIMESTAMP_RANGE_MS } from "../../domain/Timestamp.js"
import type { WorkflowRun } from "../../domain/WorkflowRun.js"

/** A value better-sqlite3 binds. */
export type Bindable = string | number | null

// ---- decode: column checks, each `undefined` when the column is not in the store's own form

const CANONICAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const NIL_UUID = "00000000-0000-0000-0000-000000000000"
/** The one stored time form (held by CHECK constraints): UTC, milliseconds, `Z`. */
const STORED_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

const id = <I extends string>(value: unknown): I | undefined =>
  typeof value === "string" && CANONICAL_ID.test(value) && value !== NIL_UUID ? value as I : undefined

const text = (value: unknown): string | undefined => (typeof value === "string" && isStorable(value) ? value : undefined)

const oneOf = <L extends string>(values: ReadonlyArray<L>) => {
  const set = new Set<unknown>(values)
  return (value: unknown): L | undefined => (set.has(value) ? value as L : undefined)
}
const jobKind = oneOf(JobKinds)
const jobState = oneOf(JobStates)
const accessMode = oneOf(AccessModes)
const safetyMode = oneOf(SafetyModes)

const intBetween = (value: unknown, min: number, max: number): number | undefined =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max ? value as number : undefined

/** A stored instant, checked: the round trip refuses calendar-invalid text (Feb 30, hour 24) that `Date.parse` would roll over. */
const checkedInstant = (value: string): DateTime.Utc | undefined => {
  if (!STORED_INSTANT.test(value)) return undefined
  const ms = Date.parse(value)
  if (!(ms >= TIMESTAMP_RANGE_MS.min && ms <= TIMESTAMP_RANGE_MS.max)) return undefined
  return new Date(ms).toISOString() === value ? DateTime.unsafeMake(ms) : undefined
}

/**
 * The last instant read, by its text. A row read back carries the instant the
 * store just wrote (`storedInstant`'s last, below) and repeats its own (a
 * job's `created_at` and `run_after`), so most reads are one of these two (h50):
 * the same text always decodes to the same value, checked once.
 */
let lastReadText = ""
let lastRead: DateTime.Utc | undefined

const instant = (value: unknown): DateTime.Utc | undefined => {
  if (typeof value !== "string") return undefined
  if (value === lastInstantText) {
    if (!lastInstantChecked) {
      lastInstantReads = checkedInstant(value)
      lastInstantChecked = true
    }
    return lastInstantReads
  }
  if (value === lastReadText) return lastRead
  const checked = checkedInstant(value)
  if (checked !== undefined) {
    lastReadText = value
    lastRead = checked
  }
  return checked
}

/** A JSON column decoded by its own (small) Schema: far cheaper than the whole row's. */
const jsonColumn = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(Schema.parseJson(schema))
  return (value: unknown): A | undefined => {
    if (typeof value !== "string") return undefined
    const decoded = decode(value)
    return Either.isRight(decoded) ? decoded.right : undefined
  }
}
const entityRefs = jsonColumn(Schema.Array(EntityRef))
const plannedOperations = jsonColumn(Schema.Array(PlannedOperation))
const metricsColumn = jsonColumn(JobMetrics)
/** A JSON column's text parsed; `NOT_JSON` for anything else (no text, or text that is no JSON). */
const NOT_JSON = Symbol("not JSON")
const parsedText = (value: unknown): unknown => {
  if (typeof value !== "string") return NOT_JSON
  try {
    return JSON.parse(value)
  } catch {
    return NOT_JSON
  }
}
/** Any JSON value: `JSON.parse` and `Json`'s own check, without the Schema around them. */
const jsonValue = (value: unknown): Json | undefined => {
  const parsed = parsedText(value)
  return parsed === NOT_JSON ? undefined : checkedJson(parsed)
}
const backoffColumn = jsonColumn(BackoffMillis)

/** A fresh job's metrics, as stored: decoded to the shared zero without parsing. */
const ZERO_METRICS = JSON.stringify(Schema.encodeSync(JobMetrics)(JobMetrics.zero))
const metrics = (value: unknown): JobMetrics | undefined => {
  if (value === ZERO_METRICS) return JobMetrics.zero
  const parsed = parsedText(value)
  // Every counter in its stored form by hand; anything else (a legacy row's) by the Schema.
  return parsed === NOT_JSON ? undefined : metricsInStoredForm(parsed) ?? metricsColumn(value)
}
/** A list column; the empty list, by far the most common, without parsing. */
const list = <A>(decode: (value: unknown) => ReadonlyArray<A> | undefined) => (value: unknown): ReadonlyArray<A> | undefined =>
  value === "[]" ? [] : decode(value)

const nullOr = <A>(decode: (value: unknown) => A | undefined) => (value: unknown): A | null | undefined =>
  value === null ? null : decode(value)
const nullableText = nullOr(text)
const nullableJson = nullOr(jsonValue)

/** Marks a column that did not pass: the row goes to the Schema. */
const NOT_FAST = Symbol("NotFast")
const need = <A>(value: A | undefined): A => {
  if (value === undefined) throw NOT_FAST
  return value
}
/** Runs a hand-built decode; `undefined` when some column is not in the store's own form. */
const attempt = <A>(decode: () => A): A | undefined => {
  try {
    return decode()
  } catch (error) {
    if (error === NOT_FAST) return undefined
    throw error
  }
}

type Row = Record<string, unknown>
const isRow = (row: unknown): row is Row => typeof row === "object" && row !== null

/** An `ai_jobs` row as an `AiJob`, if every column is in the store's own form. Fields in `AiJob`'s order. */
export const fastJob = (row: unknown): AiJob | undefined =>
  isRow(row)
    ? attempt((): AiJob => ({
      job_id: need(id<JobId>(row.id)),
      trace_id: need(id<TraceId>(row.trace_id)),
      workflow_run_id: row.workflow_run_id === null ? null : need(id<WorkflowRunId>(row.workflow_run_id)),
      job_kind: need(jobKind(row.job_kind)),
      state: need(jobState(row.status)),
      protocol_id: need(text(row.protocol_id)),
      profile_id: need(text(row.profile_id)),
      capability_profile_id: need(text(row.capability_profile_id)),
      access_mode: need(accessMode(row.access_mode)),
      safety_mode: need(safetyMode(row.safety_mode)),
      entity_refs: need(list(entityRefs)(row.entity_refs)),
      planned_operations: need(list(plannedOperations)(row.planned_operations)),
      metrics: need(metrics(row.metrics)),
      status_reason: need(text(row.status_reason)),
      error_message: need(nullableText(row.error_message)),
      job_inputs: need(nullableJson(row.job_inputs)),
      job_outputs: need(nullableJson(row.job_outputs)),
      is_pinned: need(row.is_pinned === 1 ? true : row.is_pinned === 0 ? false : undefined),
      created_at: need(instant(row.created_at)),
      updated_at: need(instant(row.updated_at)),
      attempt: need(intBetween(row.attempt, 1, MAX_ATTEMPTS_LIMIT)),
      max_attempts: need(intBetween(row.max_attempts, 1, MAX_ATTEMPTS_LIMIT)),
      run_after: need(instant(row.run_after)),
      priority: need(intBetween(row.priority, -32768, 32767)),
      backoff: need(nullOr(backoffColumn)(row.backoff))
    }))
    : undefined

/** A `workflow_runs` row as a `WorkflowRun`, if every column is in the store's own form. */
export const fastRun = (row: unknown): WorkflowRun | undefined =>
  isRow(row)
    ? attempt((): WorkflowRun => ({
      id: need(id<WorkflowRunId>(row.id)),
      job_id: need(id<JobId>(row.job_id)),
      status: need(jobState(row.status)),
      last_heartbeat: need(instant(row.last_heartbeat)),
      error_message: need(nullableText(row.error_message)),
      created_at: need(instant(row.created_at)),
      updated_at: need(instant(row.updated_at))
    }))
    : undefined

// ---- encode: decoded domain values to the stored form

/**
 * An instant in the one stored form. The last one is remembered: a job's
 * `created_at`, `updated_at` and `run_after` are usually one `now`, shared by
 * a whole `createJobs` batch (a `DateTime.Utc` never changes, so the same
 * object always has the same text).
 */
let lastInstant: DateTime.Utc | undefined
let lastInstantText = ""
/** What `lastInstantText` decodes to when read back (undefined: refused, outside the stored range), checked at its first read. */
let lastInstantReads: DateTime.Utc | undefined
let lastInstantChecked = false
export const storedInstant = (instant: DateTime.Utc): string => {
  if (instant !== lastInstant) {
    lastInstantText = DateTime.formatIso(instant)
    lastInstant = instant
    lastInstantChecked = false
  }
  return lastInstantText
}

/**
 * A JSON value as TEXT. A null job input or output is JSON `null` too: the
 * row Schema's `NullOr(JsonText)` encodes it so (Json holds null), and the
 * column keeps the form it always had.
 */
export const jsonText = (value: unknown): string => JSON.stringify(value)

/** The `ai_jobs` columns, in the order `jobValues` gives them. */
export const JOB_COLUMNS = [
  "id", "trace_id", "workflow_run_id", "job_kind", "status", "status_reason", "error_message", "protocol_id",
  "profile_id", "capability_profile_id", "access_mode", "safety_mode", "entity_refs", "planned_operations",
  "metrics", "job_inputs", "job_outputs", "is_pinned", "created_at", "updated_at", "attempt", "max_attempts",
  "run_after", "priority", "backoff"
] as const

/** Appends a job's row values, in `JOB_COLUMNS` order, to `out` (a batch's values, one array for all its rows). */
export const pushJobValues = (out: Array<Bindable>, job: AiJob): void => {
  out.push(
    job.job_id, job.trace_id, job.workflow_run_id, job.job_kind, job.state, job.status_reason, job.error_message,
    job.protocol_id, job.profile_id, job.capability_profile_id, job.access_mode, job.safety_mode,
    jsonText(job.entity_refs), jsonText(job.planned_operations), jsonText(job.metrics),
    jsonText(job.job_inputs), jsonText(job.job_outputs), job.is_pinned ? 1 : 0,
    storedInstant(job.created_at), storedInstant(job.updated_at), job.attempt, job.max_attempts,
    storedInstant(job.run_after), job.priority, job.backoff === null ? null : jsonText(job.backoff)
  )
}

/** A job's row values, in `JOB_COLUMNS` order. */
export const jobValues = (job: AiJob): ReadonlyArray<Bindable> => {
  const out: Array<Bindable> = []
  pushJobValues(out, job)
  return out
}

/** The `workflow_runs` columns, in the order `runValues` gives them. */
export const RUN_COLUMNS = ["id", "job_id", "status", "last_heartbeat", "error_message", "created_at", "updated_at"] as const

/** A run's row values, in `RUN_COLUMNS` order. */
export const runValues = (run: WorkflowRun): ReadonlyArray<Bindable> => [
  run.id, run.job_id, run.status, storedInstant(run.last_heartbeat), run.error_message,
  storedInstant(run.created_at), storedInstant(run.updated_at)
]

/** The `flight_recorder_events` columns, in the order `eventValues` gives them. */
export const EVENT_COLUMNS = ["event_id", "timestamp", "actor", "type", "trace_id", "job_id", "workflow_run_id", "body"] as const

/** An event record's row values, in `EVENT_COLUMNS` order. */
export const eventValues = (event: EventRecord): ReadonlyArray<Bindable> => [
  event.event_id, storedInstant(event.timestamp), event.actor, event.type, event.trace_id, event.job_id,
  event.workflow_run_id, jsonText(event.body)
]
