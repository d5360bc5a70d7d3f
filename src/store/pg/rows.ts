/**
 * PostgreSQL rows ↔ domain values.
 *
 * `pg` hands back `timestamptz` as `Date`, `jsonb` already parsed and `uuid`
 * as text, so the row schemas here are the domain schemas with the timestamp
 * fields swapped for `Instant`. Rows use the column names (`id`, `status`)
 * so a `CorruptRow` names the column an operator has to look at.
 *
 * Writes go the other way through Schema too: instants as RFC 3339 text and
 * JSON as text, cast in SQL (`$1::timestamptz`, `$1::jsonb`).
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { AiJob } from "../../domain/AiJob.js"
import { EventRecord } from "../../domain/EventRecord.js"
import { TraceId } from "../../domain/Ids.js"
import { JobMetrics } from "../../domain/JobMetrics.js"
import { Json } from "../../domain/Json.js"
import { TimestampFromSelf } from "../../domain/Timestamp.js"
import { BackoffMillis } from "../../domain/RetryPolicy.js"
import { NodeExecution, NodeSummary, WorkflowRun } from "../../domain/WorkflowRun.js"
import { rowDecoders } from "../internal/decodeRow.js"
import type { StalledRun } from "../JobStore.js"
import type { CorruptRow } from "../StoreErrors.js"
import { fastJob, fastRun, fastStalledRun } from "./rowCodec.js"
import { cutoffText, filterBoundText } from "../internal/instants.js"
import { allKnown } from "../../util/knownEffects.js"

/** A `timestamptz` as `pg` returns it, decoded to a UTC instant in the domain's range. */
export const Instant = Schema.compose(Schema.DateTimeUtcFromDate, TimestampFromSelf)

const { job_id: _jobId, state: _state, ...jobFields } = AiJob.fields

/** An `ai_jobs` row. */
export const JobRow = Schema.Struct({
  ...jobFields,
  id: AiJob.fields.job_id,
  status: AiJob.fields.state,
  created_at: Instant,
  updated_at: Instant,
  run_after: Instant
})
export type JobRow = typeof JobRow.Type

/** A `workflow_runs` row: the domain run with `Date` timestamps. */
export const RunRow = Schema.Struct({
  ...WorkflowRun.fields,
  last_heartbeat: Instant,
  created_at: Instant,
  updated_at: Instant
})

/** A `workflow_runs` row joined with its job's `trace_id`, as stallStaleRuns reads it. */
export const StalledRunRow = Schema.Struct({ ...RunRow.fields, trace_id: TraceId })

/** A `workflow_node_executions` row. */
export const NodeRow = Schema.Struct({
  ...NodeExecution.fields,
  started_at: Instant,
  finished_at: Schema.NullOr(Instant)
})

/** A node row as `listNodeSummaries` reads it: a payload left out is null, its size beside it. */
export const NodeSummaryRow = Schema.Struct({
  ...NodeRow.fields,
  input_payload_bytes: NodeSummary.fields.input_payload_bytes,
  output_payload_bytes: NodeSummary.fields.output_payload_bytes
})

/** A `flight_recorder_events` row. */
export const EventRow = Schema.Struct({ ...EventRecord.fields, timestamp: Instant })

/** Column lists, in one place so every SELECT and RETURNING reads the same shape. */
export const columns = {
  job: "id, trace_id, workflow_run_id, job_kind, status, status_reason, error_message, protocol_id, profile_id, " +
    "capability_profile_id, access_mode, safety_mode, entity_refs, planned_operations, metrics, job_inputs, " +
    "job_outputs, is_pinned, created_at, updated_at, attempt, max_attempts, run_after, priority, backoff",
  run: "id, job_id, status, last_heartbeat, error_message, created_at, updated_at",
  node: "id, workflow_run_id, node_id, node_type, status, sequence, input_payload, output_payload, error_message, " +
    "started_at, finished_at",
  event: `event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body`
} as const

/** A column list with each column qualified by a table alias, for statements that join. */
export const qualified = (list: string, alias: string): string =>
  list.split(", ").map((column) => `${alias}.${column}`).join(", ")

/**
 * The domain job of a decoded row (the row names `job_id` `id` and `state`
 * `status`), its fields in the domain's order (`AiJob.fields`), as SQLite's:
 * a job serialises alike whichever store read it.
 */
export const toAiJob = (row: JobRow): AiJob => ({
  job_id: row.id,
  trace_id: row.trace_id,
  workflow_run_id: row.workflow_run_id,
  job_kind: row.job_kind,
  state: row.status,
  protocol_id: row.protocol_id,
  profile_id: row.profile_id,
  capability_profile_id: row.capability_profile_id,
  access_mode: row.access_mode,
  safety_mode: row.safety_mode,
  entity_refs: row.entity_refs,
  planned_operations: row.planned_operations,
  metrics: row.metrics,
  status_reason: row.status_reason,
  error_message: row.error_message,
  job_inputs: row.job_inputs,
  job_outputs: row.job_outputs,
  is_pinned: row.is_pinned,
  created_at: row.created_at,
  updated_at: row.updated_at,
  attempt: row.attempt,
  max_attempts: row.max_attempts,
  run_after: row.run_after,
  priority: row.priority,
  backoff: row.backoff
})

const schemaDecode = rowDecoders({ job: JobRow, run: RunRow, stalledRun: StalledRunRow, node: NodeRow, nodeSummary: NodeSummaryRow, event: EventRow })

/**
 * Decoders failing with `CorruptRow` naming the table, the row id and the
 * column. Jobs and runs, read on every step of a lifecycle, take the
 * hand-built decode (rowCodec.ts) when the row is in the store's own form,
 * and the row Schema otherwise.
 */
export const decode = {
  ...schemaDecode,
  /** An `ai_jobs` row as the domain job. */
  aiJob: (row: unknown): Effect.Effect<AiJob, CorruptRow> => {
    const fast = fastJob(row)
    return fast !== undefined ? Effect.succeed(fast) : Effect.map(schemaDecode.job(row), toAiJob)
  },
  run: (row: unknown): Effect.Effect<WorkflowRun, CorruptRow> => {
    const fast = fastRun(row)
    return fast !== undefined ? Effect.succeed(fast) : schemaDecode.run(row)
  },
  /**
   * Recovery's rows (a run with its job's trace id) as the port's stalled
   * runs, in order: by hand in one loop, with no Effect per row (issue 16: up
   * to 10,000 rows a statement); a row not in the store's own form through
   * the row Schema, so the first row the Schema refuses fails the whole
   * decode with its `CorruptRow`, as one Schema decode per row would.
   */
  stalledRuns: (rows: ReadonlyArray<unknown>): Effect.Effect<Array<StalledRun>, CorruptRow> => {
    const stalled = new Array<StalledRun>(rows.length)
    const odd: Array<number> = []
    for (let i = 0; i < rows.length; i++) {
      const fast = fastStalledRun(rows[i])
      if (fast === undefined) odd.push(i)
      else stalled[i] = fast
    }
    if (odd.length === 0) return Effect.succeed(stalled)
    return Effect.as(
      Effect.forEach(odd, (i) =>
        Effect.map(schemaDecode.stalledRun(rows[i]), ({ trace_id, ...run }) => {
          stalled[i] = { run, trace_id }
        }), { discard: true }),
      stalled
    )
  }
}

/**
 * Each item's row (`rowOf`; undefined where the statement gave none)
 * decoded by `decodeRow`, the first failure failing it all; rows in the
 * store's own form without an Effect operation each (internal/allKnown.ts).
 */
export const decodeEach = <I, A, E>(
  items: ReadonlyArray<I>,
  rowOf: (item: I) => unknown,
  decodeRow: (row: unknown) => Effect.Effect<A, E>
): Effect.Effect<ReadonlyArray<A | undefined>, E> =>
  allKnown(items.map((item): Effect.Effect<A | undefined, E> => {
    const row = rowOf(item)
    return row === undefined ? Effect.succeed(undefined) : decodeRow(row)
  }))

/**
 * An instant as RFC 3339 text with milliseconds, for a `$n::timestamptz`
 * parameter: `Timestamp`'s encoding, minus its 1970–9999 range check. Filter
 * bounds and cutoffs go through `instantBound` or `filterBound` (internal/instants.ts).
 */
export const instantParam = (instant: DateTime.Utc): string => DateTime.formatIso(instant)

/** An event record as JSON for `jsonb_to_recordset`: `EventRecord`'s encoded form. */
export const eventJson = (event: EventRecord) => ({
  event_id: event.event_id,
  timestamp: DateTime.formatIso(event.timestamp),
  actor: event.actor,
  type: event.type,
  trace_id: event.trace_id,
  job_id: event.job_id,
  workflow_run_id: event.workflow_run_id,
  body: event.body
})

/**
 * Event records as one jsonb parameter's text, by hand: every record reaching
 * the store was decoded at the port (internal/portInput.ts, internal/audit.ts),
 * so only its form changes — the timestamp to its stored text. (Its Schema
 * encode was ~150 µs of CPU per lifecycle.)
 */
export const eventsText = (events: ReadonlyArray<EventRecord>): string => JSON.stringify(events.map(eventJson))

const jsonParam = <A, I>(schema: Schema.Schema<A, I>) => Schema.encode(Schema.parseJson(schema))
// Built once: building `parseJson(Json)` on each call cost ~70 µs, every createJob and payload write.
const payloadJson = jsonParam(Json)
const backoffJson = jsonParam(BackoffMillis)

/**
 * JSON text for `$n::jsonb` parameters, encoded through the domain schemas:
 * a value the domain forbids (NaN in a payload, a fractional counter) fails
 * with a ParseError instead of being stored as something else.
 */
export const encodeJson = {
  entityRefs: jsonParam(AiJob.fields.entity_refs),
  plannedOperations: jsonParam(AiJob.fields.planned_operations),
  // The struct of JobMetrics' fields accepts a plain object as well as an instance.
  metrics: jsonParam(Schema.Struct(JobMetrics.fields)),
  /** A job's own backoff: SQL NULL for none. */
  backoff: (value: BackoffMillis | null): Effect.Effect<string | null, ParseError> =>
    value === null ? Effect.succeed(null) : backoffJson(value),
  /**
   * A payload decoded at the port (internal/portInput.ts): `Json`'s decode
   * already walked it and gave a fresh copy of plain values (finite numbers,
   * storable text, no `__proto__`, bounded depth), so its JSON text is
   * `JSON.stringify`'s — what `payload` gives after walking it again
   * (test/store/pg-create-fast-path.test.ts proves the two agree).
   */
  portPayload: (value: Json | null): string | null => value === null ? null : JSON.stringify(value),
  /** A nullable payload: SQL NULL for null, JSON text otherwise. */
  payload: (value: Json | null): Effect.Effect<string | null, ParseError> =>
    value === null ? Effect.succeed(null) : payloadJson(value)
}

/** A payload's size as written (`encodeJson.payload`'s text, in bytes, as SQLite measures its stored text): stored beside it (0032). */
export const payloadBytes = (text: string | null): number | null => text === null ? null : Buffer.byteLength(text, "utf8")

const decodeCount = Schema.decodeUnknown(Schema.Struct({ count: Schema.NumberFromString }))

/** The `count` column of a one-row result. `pg` returns int8 as text; anything else is a defect. */
export const countOf = (rows: ReadonlyArray<unknown>): Effect.Effect<number> =>
  decodeCount(rows[0]).pipe(Effect.map((row) => row.count), Effect.orDie)

/**
 * A filter bound or cutoff, clamped to the stored range (see
 * internal/instants.ts): PostgreSQL refuses years beyond 9999 in `timestamptz` input.
 */
export const instantBound = (instant: DateTime.Utc): string => cutoffText(instant)

/** A listing's filter bound in a form compared as time (internal/instants.ts `filterBoundText`). */
export const filterBound = (instant: DateTime.Utc): string => filterBoundText(instant)
