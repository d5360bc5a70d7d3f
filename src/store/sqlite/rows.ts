/**
 * SQLite rows ↔ domain values. Every value crosses the boundary through one of
 * these schemas: strict decode on read (a bad row is a `CorruptRow`), encode on
 * write (better-sqlite3 binds only strings, numbers, bigints, buffers, null).
 *
 * On SQLite, JSON columns are TEXT and timestamps are TEXT in the one stored
 * form (`Timestamp` encodes exactly that: UTC, milliseconds, `Z`).
 */
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AiJob, EntityRef, PlannedOperation } from "../../domain/AiJob.js"
import { EventRecord } from "../../domain/EventRecord.js"
import { JobId, TraceId, WorkflowRunId } from "../../domain/Ids.js"
import { JobKind } from "../../domain/JobKind.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import { AccessMode, JobState, SafetyMode } from "../../domain/JobState.js"
import { Json } from "../../domain/Json.js"
import { Timestamp } from "../../domain/Timestamp.js"
import { BackoffMillis } from "../../domain/RetryPolicy.js"
import { NodeExecution, NodeSummary, WorkflowRun } from "../../domain/WorkflowRun.js"
import { rowDecoderNow, rowDecoders } from "../internal/decodeRow.js"
import type { CorruptRow } from "../StoreErrors.js"
import { fastJob, fastRun } from "./rowCodec.js"
import { cutoffText, filterBoundText } from "../internal/instants.js"

/** A JSON value stored as TEXT. */
const JsonText = Schema.parseJson(Json)

/** SQLite's 0/1 integers as booleans. */
const BooleanFromBit = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
  strict: true,
  decode: (bit) => bit === 1,
  encode: (flag) => (flag ? 1 : 0)
})

/** An `ai_jobs` row, column by column. */
export const JobRow = Schema.Struct({
  id: JobId,
  trace_id: TraceId,
  workflow_run_id: Schema.NullOr(WorkflowRunId),
  job_kind: JobKind,
  status: JobState,
  status_reason: Schema.String,
  error_message: Schema.NullOr(Schema.String),
  protocol_id: Schema.String,
  profile_id: Schema.String,
  capability_profile_id: Schema.String,
  access_mode: AccessMode,
  safety_mode: SafetyMode,
  entity_refs: Schema.parseJson(Schema.Array(EntityRef)),
  planned_operations: Schema.parseJson(Schema.Array(PlannedOperation)),
  metrics: Schema.parseJson(JobMetrics),
  job_inputs: Schema.NullOr(JsonText),
  job_outputs: Schema.NullOr(JsonText),
  is_pinned: BooleanFromBit,
  created_at: Timestamp,
  updated_at: Timestamp,
  attempt: AiJob.fields.attempt,
  max_attempts: AiJob.fields.max_attempts,
  run_after: Timestamp,
  priority: AiJob.fields.priority,
  backoff: Schema.NullOr(Schema.parseJson(BackoffMillis))
})

/** An `ai_jobs` row as an `AiJob` (`id` ↔ `job_id`, `status` ↔ `state`). */
export const JobFromRow = Schema.transform(JobRow, Schema.typeSchema(AiJob), {
  strict: true,
  decode: ({ id, status, ...rest }) => ({ ...rest, job_id: id, state: status }),
  encode: ({ job_id, state, ...rest }) => ({ ...rest, id: job_id, status: state })
})

/** Some columns of an `ai_jobs` row, for UPDATE ... SET. */
export const JobColumns = Schema.partialWith(JobRow, { exact: true })

/** A `workflow_runs` row: the columns are the domain's field names. */
export const RunRow = WorkflowRun

/** A `workflow_runs` row joined with its job's trace id (`job_trace_id`). */
export const StalledRunRow = Schema.Struct({ ...WorkflowRun.fields, job_trace_id: TraceId })

/** A `workflow_node_executions` row: payloads are JSON TEXT. */
export const NodeRow = Schema.Struct({
  ...NodeExecution.fields,
  input_payload: Schema.NullOr(JsonText),
  output_payload: Schema.NullOr(JsonText)
})

/** A node row as `listNodeSummaries` reads it: a payload left out is null, its size beside it. */
export const NodeSummaryRow = Schema.Struct({
  ...NodeRow.fields,
  input_payload_bytes: NodeSummary.fields.input_payload_bytes,
  output_payload_bytes: NodeSummary.fields.output_payload_bytes
})

/** A `flight_recorder_events` row: the body is JSON TEXT. */
export const EventRow = Schema.Struct({
  ...EventRecord.fields,
  body: Schema.parseJson(EventRecord.fields.body)
})

/** The row Schemas' strict decoders, each failing with `CorruptRow` naming its table. */
const schemaDecode = rowDecoders({ job: JobFromRow, run: RunRow, stalledRun: StalledRunRow, node: NodeRow, nodeSummary: NodeSummaryRow, event: EventRow })

/** A decoder that tries the hand-built tier first and leaves every other row to the Schema (see rowCodec.ts). */
const fastFirst = <A>(fast: (row: unknown) => A | undefined, schema: (row: unknown) => Effect.Effect<A, CorruptRow>) =>
(row: unknown): Effect.Effect<A, CorruptRow> => {
  const value = fast(row)
  return value === undefined ? schema(row) : Effect.succeed(value)
}

/** Strict row decoders, each failing with `CorruptRow` naming its table. */
export const decode = {
  ...schemaDecode,
  job: fastFirst(fastJob, schemaDecode.job),
  run: fastFirst(fastRun, schemaDecode.run)
}

/** A decoder of the hand-built tier that leaves every other row to the Schema, synchronously: throws the `CorruptRow`. */
const fastFirstNow = <A>(fast: (row: unknown) => A | undefined, schema: (row: unknown) => A) => (row: unknown): A =>
  fast(row) ?? schema(row)

/** `decode.job` and `decode.run` for a synchronous step (step.ts): the value, or throws the `CorruptRow`. */
export const decodeNow = {
  job: fastFirstNow(fastJob, rowDecoderNow(JobFromRow, "ai_jobs")),
  run: fastFirstNow(fastRun, rowDecoderNow(RunRow, "workflow_runs"))
}

/** Encoders for writes. They fail only on values the domain types already forbid. */
export const encode = {
  job: Schema.encode(JobFromRow),
  jobColumns: Schema.encode(JobColumns),
  run: Schema.encode(RunRow),
  node: Schema.encode(NodeRow),
  /** A node as startNode writes it: everything but the sequence, which the INSERT computes. */
  startedNode: Schema.encode(NodeRow.omit("sequence")),
  nodeColumns: Schema.encode(Schema.partialWith(NodeRow, { exact: true })),
  event: Schema.encode(EventRow),
  timestamp: Schema.encode(Timestamp)
}

/**
 * A cutoff (stale scan, retention) in the stored text form, for comparisons. Clamped
 * to the stored range (see internal/instants.ts): beyond year 9999 ISO text
 * grows a sign and six digits and would no longer compare as time.
 */
export const instantBound = (instant: DateTime.Utc): string => cutoffText(instant)

/** A listing's filter bound in a form compared as time (internal/instants.ts `filterBoundText`). */
export const filterBound = (instant: DateTime.Utc): string => filterBoundText(instant)
