/**
 * Hand-built decoders for the PostgreSQL rows of the hot path (issue 16: a
 * job row through the row Schema costs ~50 µs of CPU, and a lifecycle
 * decodes five rows).
 *
 * Strict in two tiers, as sqlite/rowCodec.ts is: `fastJob`/`fastRun` check
 * every column by hand and build the domain value only when each column is
 * in the form the store itself writes — canonical lower-case ids, a `Date`
 * in the stored range (`pg` gives `timestamptz` as `Date`), `jsonb` already
 * parsed, the canonical kind. Anything else (a legacy alias, an odd JSON
 * value, a corrupt column) gives `undefined`, and the caller falls back to
 * the row Schema (rows.ts), which decodes it or names the column in a
 * `CorruptRow`. So the fast tier accepts only rows the Schema accepts, and
 * gives the same value (test/store/pg-row-codec.test.ts checks both).
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { type AiJob, EntityRef, PlannedOperation } from "../../domain/AiJob.js"
import type { JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import { JobKinds } from "../../domain/JobKind.js"
import { JobMetrics, metricsInStoredForm } from "../../domain/JobMetrics.js"
import { AccessModes, JobStates, SafetyModes } from "../../domain/JobState.js"
import { checkedJson, type Json } from "../../domain/Json.js"
import { BackoffMillis, MAX_ATTEMPTS_LIMIT } from "../../domain/RetryPolicy.js"
import { isStorable } from "../../domain/Text.js"
import { TIMESTAMP_RANGE_MS } from "../../domain/Timestamp.js"
import type { WorkflowRun } from "../../domain/WorkflowRun.js"
import type { StalledRun } from "../JobStore.js"

/** Thrown by a column check that does not pass: the row goes to the Schema. */
const NOT_FAST = Symbol("NotFast")
const fail = (): never => {
  throw NOT_FAST
}

const CANONICAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const NIL_UUID = "00000000-0000-0000-0000-000000000000"

const id = <I extends string>(value: unknown): I =>
  typeof value === "string" && CANONICAL_ID.test(value) && value !== NIL_UUID ? value as I : fail()

const text = (value: unknown): string => typeof value === "string" && isStorable(value) ? value : fail()

const member = <L extends string>(values: ReadonlyArray<L>) => {
  const set = new Set<unknown>(values)
  return (value: unknown): L => set.has(value) ? value as L : fail()
}
const jobKind = member(JobKinds)
const jobState = member(JobStates)
const accessMode = member(AccessModes)
const safetyMode = member(SafetyModes)

const wholeIn = (min: number, max: number) => (value: unknown): number =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max ? value as number : fail()
const attemptNumber = wholeIn(1, MAX_ATTEMPTS_LIMIT)
const priority = wholeIn(-32768, 32767)

/** A `timestamptz` as `pg` gives it: a valid `Date` in the domain's range (made a `DateTime` from itself: no second `Date`). */
const instant = (value: unknown): DateTime.Utc => {
  if (!(value instanceof Date)) return fail()
  const ms = value.getTime()
  return ms >= TIMESTAMP_RANGE_MS.min && ms <= TIMESTAMP_RANGE_MS.max ? DateTime.unsafeFromDate(value) : fail()
}

/** A parsed `jsonb` value checked by its own (small) Schema: far cheaper than the whole row's. */
const jsonb = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (value: unknown): A => {
    const decoded = decode(value)
    return Either.isRight(decoded) ? decoded.right : fail()
  }
}
/** A list column; the empty list, by far the most common, without a decode. */
const list = <A, I>(item: Schema.Schema<A, I>) => {
  const decode = jsonb(Schema.Array(item))
  return (value: unknown): ReadonlyArray<A> => Array.isArray(value) && value.length === 0 ? [] : decode(value)
}
const entityRefs = list(EntityRef)
const plannedOperations = list(PlannedOperation)
/** A payload: `Json`'s own walk, what its decode gives without the Schema around it (as on SQLite). */
const json = (value: unknown): Json => {
  const checked = checkedJson(value)
  return checked === undefined ? fail() : checked
}
const backoff = jsonb(BackoffMillis)
const metricsDecode = jsonb(JobMetrics)

/** A fresh job's metrics (every counter 0, as created): the shared zero, without a decode. */
const ZERO_KEYS = Object.keys(Schema.encodeSync(JobMetrics)(JobMetrics.zero))
const isZero = (value: unknown): boolean => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const keys = Object.keys(value)
  return keys.length === ZERO_KEYS.length &&
    ZERO_KEYS.every((key) => (value as Record<string, unknown>)[key] === 0)
}
const metrics = (value: unknown): JobMetrics =>
  isZero(value) ? JobMetrics.zero : metricsInStoredForm(value) ?? metricsDecode(value)

const nullOr = <A>(decode: (value: unknown) => A) => (value: unknown): A | null => value === null ? null : decode(value)
const nullableText = nullOr(text)
const nullableJson = nullOr(json)
const nullableBackoff = nullOr(backoff)

/** Runs a hand-built decode; `undefined` when some column is not in the store's own form. */
const attempt = <A>(decode: (row: Record<string, unknown>) => A) => (row: unknown): A | undefined => {
  if (typeof row !== "object" || row === null) return undefined
  try {
    return decode(row as Record<string, unknown>)
  } catch (error) {
    if (error === NOT_FAST) return undefined
    throw error
  }
}

/**
 * An `ai_jobs` row as an `AiJob`, if every column is in the store's own form.
 * Fields in the domain's order (`AiJob.fields`, as `toAiJob` and SQLite give
 * them), so a job serialises alike whichever store read it.
 */
export const fastJob: (row: unknown) => AiJob | undefined = attempt((row): AiJob => ({
  job_id: id<JobId>(row.id),
  trace_id: id<TraceId>(row.trace_id),
  workflow_run_id: row.workflow_run_id === null ? null : id<WorkflowRunId>(row.workflow_run_id),
  job_kind: jobKind(row.job_kind),
  state: jobState(row.status),
  protocol_id: text(row.protocol_id),
  profile_id: text(row.profile_id),
  capability_profile_id: text(row.capability_profile_id),
  access_mode: accessMode(row.access_mode),
  safety_mode: safetyMode(row.safety_mode),
  entity_refs: entityRefs(row.entity_refs),
  planned_operations: plannedOperations(row.planned_operations),
  metrics: metrics(row.metrics),
  status_reason: text(row.status_reason),
  error_message: nullableText(row.error_message),
  job_inputs: nullableJson(row.job_inputs),
  job_outputs: nullableJson(row.job_outputs),
  is_pinned: typeof row.is_pinned === "boolean" ? row.is_pinned : fail(),
  created_at: instant(row.created_at),
  updated_at: instant(row.updated_at),
  attempt: attemptNumber(row.attempt),
  max_attempts: attemptNumber(row.max_attempts),
  run_after: instant(row.run_after),
  priority: priority(row.priority),
  backoff: nullableBackoff(row.backoff)
}))

/** A `workflow_runs` row as a `WorkflowRun`, if every column is in the store's own form. */
export const fastRun: (row: unknown) => WorkflowRun | undefined = attempt((row): WorkflowRun => ({
  id: id<WorkflowRunId>(row.id),
  job_id: id<JobId>(row.job_id),
  status: jobState(row.status),
  last_heartbeat: instant(row.last_heartbeat),
  error_message: nullableText(row.error_message),
  created_at: instant(row.created_at),
  updated_at: instant(row.updated_at)
}))

/**
 * A `workflow_runs` row joined with its job's `trace_id` (recovery's) as the
 * port's `StalledRun`, if every column is in the store's own form. Built as
 * `{ run, trace_id }` at once, with no spread or rest copy of the row:
 * recovery decodes up to 10,000 of these a statement (issue 16).
 */
export const fastStalledRun = (row: unknown): StalledRun | undefined => {
  const run = fastRun(row)
  const traceId = (row as { readonly trace_id?: unknown } | undefined)?.trace_id
  return run !== undefined && typeof traceId === "string" && CANONICAL_ID.test(traceId) && traceId !== NIL_UUID
    ? { run, trace_id: traceId as TraceId }
    : undefined
}

/** The columns a heartbeat returns (runs.ts): those of its run the beat itself does not set. */
export const BEATEN_COLUMNS = "id, job_id, error_message, created_at"

/**
 * A beaten run from the columns `BEATEN_COLUMNS` names and what the beat
 * itself set — its guard found the run `running`, and it wrote `now` as the
 * heartbeat and `updated_at`, unless the run was created later (a move lifted
 * past a clock behind): then its `created_at`
 * — if every column is in the store's own form and `now` in the domain's
 * range. Undefined otherwise, as `fastRun`: the caller decodes the row with
 * the Schema.
 */
export const fastBeatenRun = (row: unknown, now: DateTime.Utc): WorkflowRun | undefined => {
  const ms = now.epochMillis
  if (typeof row !== "object" || row === null || ms < TIMESTAMP_RANGE_MS.min || ms > TIMESTAMP_RANGE_MS.max) return undefined
  const columns = row as Record<string, unknown>
  try {
    const created_at = instant(columns.created_at)
    return {
      id: id<WorkflowRunId>(columns.id),
      job_id: id<JobId>(columns.job_id),
      status: "running",
      last_heartbeat: now,
      error_message: nullableText(columns.error_message),
      created_at,
      updated_at: created_at.epochMillis > ms ? created_at : now
    }
  } catch (error) {
    if (error === NOT_FAST) return undefined
    throw error
  }
}
