/**
 * Event rows written behind the library's back, as a raw INSERT (or an
 * earlier release, or another program) would: for tests of what reading
 * makes of rows the JobStore port would refuse.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type { EventRecord } from "../../src/domain/EventRecord.js"

/** A row as its columns' text, the body as stored. */
export interface RawRow {
  readonly event_id: string
  readonly timestamp: string
  readonly actor: string
  readonly type: string
  readonly trace_id: string
  readonly job_id: string | null
  readonly workflow_run_id: string | null
  readonly body: Record<string, unknown>
}

/** Inserts `row` behind the library's back, as a raw INSERT would (jsonb on PostgreSQL, JSON text on SQLite). */
export const insertRaw = (row: RawRow) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.onDialectOrElse({
      pg: () =>
        sql`INSERT INTO flight_recorder_events (event_id, "timestamp", actor, type, trace_id, job_id, workflow_run_id, body)
          VALUES (${row.event_id}, ${row.timestamp}::timestamptz, ${row.actor}, ${row.type}, ${row.trace_id}, ${row.job_id},
                  ${row.workflow_run_id}, ${JSON.stringify(row.body)}::jsonb)`,
      orElse: () =>
        sql`INSERT INTO flight_recorder_events (event_id, timestamp, actor, type, trace_id, job_id, workflow_run_id, body)
          VALUES (${row.event_id}, ${row.timestamp}, ${row.actor}, ${row.type}, ${row.trace_id}, ${row.job_id},
                  ${row.workflow_run_id}, ${JSON.stringify(row.body)})`
    }))

/** The row of `record` as stored, with `columns` changed and the body left as it is. */
export const copyOf = (record: EventRecord, columns: Partial<RawRow>): RawRow => ({
  event_id: record.event_id,
  timestamp: DateTime.formatIso(record.timestamp),
  actor: record.actor,
  type: record.type,
  trace_id: record.trace_id,
  job_id: record.job_id,
  workflow_run_id: record.workflow_run_id,
  body: record.body as Record<string, unknown>,
  ...columns
})
