/**
 * The instant a move of a job is written at, in the statement that makes it
 * (a claim, a running job's end). A caller reads its clock and mints its
 * records' ids before its statement runs; another move of the same job (a
 * release, a claim) can commit in between, later by the clock. Written at
 * the caller's reading, the move would come before the one it follows in the
 * job's history, which reads by ("timestamp", event_id). So the move takes
 * the reading unless the job changed at or after it; then the job's last
 * change (`updated_at`) — or 1 ms after the job's latest record if that
 * record would sort at or after the move's first. Only then is the job's
 * history read: one step down the log's (job_id, "timestamp") index.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

/** Sorts after every event id: a move without records has no first one. */
export const AFTER_EVERY_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

/**
 * The move's instant (a timestamptz): `reading` the caller's clock reading,
 * `job` the job's row as the move finds it (its `id` and `updated_at`, as
 * qualified names), `firstId` the move's first record id (a uuid).
 */
export const moveInstant = (sql: SqlClient.SqlClient, move: {
  readonly reading: Statement.Fragment
  readonly job: string
  readonly firstId: Statement.Fragment
}): Statement.Fragment => {
  const id = sql.literal(`${move.job}.id`)
  const updatedAt = sql.literal(`${move.job}.updated_at`)
  return sql`CASE WHEN ${updatedAt} < ${move.reading} THEN ${move.reading} ELSE COALESCE((
    SELECT max(f."timestamp") + interval '1 millisecond' FROM flight_recorder_events f
    WHERE f.job_id = ${id} AND (f."timestamp", f.event_id) >= (${updatedAt}, ${move.firstId})
  ), ${updatedAt}) END`
}

/** A timestamptz `column` as `DateTime.formatIso` writes it: what a record's body says. */
export const isoText = (sql: SqlClient.SqlClient, column: string): Statement.Fragment =>
  sql.literal(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`)
