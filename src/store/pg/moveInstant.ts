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
 *
 * A move that waited for the job's row (or found it changed since its
 * statement began) sees that change's `updated_at` — PostgreSQL re-reads the
 * locked row — but not its records: its sub-selects read the statement's
 * snapshot, taken before the wait. Its last change's record unseen, it could
 * not tell it sorts after the move's first, and it tied with it: a cancel
 * listed before the pin that committed ahead of it (found by an outside
 * probe). So when the row it moves is not the version its snapshot holds
 * (their `xmin`s differ), the move is written 1 ms after that change.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { TIMESTAMP_RANGE_MS } from "../../domain/Timestamp.js"

/**
 * The last instant the stores hold (their columns' checks refuse later ones): "1 ms after" a
 * change dated there (a writer's clock far ahead) stays at it, tied, rather than being refused.
 */
const LAST_INSTANT = new Date(TIMESTAMP_RANGE_MS.max).toISOString()

/** Sorts after every event id: a move without records has no first one. */
export const AFTER_EVERY_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

/**
 * The move's instant (a timestamptz): `reading` the caller's clock reading,
 * `job` the job's row as the move locked it (its `id`, `updated_at` and
 * `xmin`, as qualified names), `firstId` the move's first record id (a uuid).
 */
export const moveInstant = (sql: SqlClient.SqlClient, move: {
  readonly reading: Statement.Fragment
  readonly job: string
  readonly firstId: Statement.Fragment
}): Statement.Fragment => {
  const id = sql.literal(`${move.job}.id`)
  const updatedAt = sql.literal(`${move.job}.updated_at`)
  const version = sql.literal(`${move.job}.xmin`)
  return instantAfter(sql, {
    reading: move.reading,
    last: updatedAt,
    jobId: id,
    firstId: move.firstId,
    unseen: sql`${version} IS DISTINCT FROM (SELECT s.xmin FROM ai_jobs s WHERE s.id = ${id})`
  })
}

/**
 * The instant of a write that follows a job's last change (`last`, a
 * timestamptz: the job's `updated_at`, or recovery's later of the job's and
 * its run's): the reading if `last` is before it; else `last`, or 1 ms after
 * the job's latest record if that record would sort at or after the write's
 * first id (`firstId`, or any id at or below it the writer minted first), or
 * 1 ms after `last` when `unseen` (a boolean) says the statement's snapshot
 * cannot see that change's records. A writer on a clock behind the change
 * mints smaller ids, so at `last` itself it would tie with the change and be
 * listed before it. The job's history is read only when the write is lifted.
 */
export const instantAfter = (sql: SqlClient.SqlClient, write: {
  readonly reading: Statement.Fragment
  readonly last: Statement.Fragment
  readonly jobId: Statement.Fragment
  readonly firstId: Statement.Fragment
  readonly unseen: Statement.Fragment
}): Statement.Fragment =>
  sql`CASE WHEN ${write.last} < ${write.reading} THEN ${write.reading} ELSE LEAST(COALESCE((
    SELECT max(f."timestamp") + interval '1 millisecond' FROM flight_recorder_events f
    WHERE f.job_id = ${write.jobId} AND (f."timestamp", f.event_id) >= (${write.last}, ${write.firstId})
  ), CASE WHEN ${write.unseen} THEN ${write.last} + interval '1 millisecond' ELSE ${write.last} END), ${LAST_INSTANT}::timestamptz) END`

/**
 * What a record's body gets merged with (a jsonb) when its move was written at
 * `written` (a timestamptz column) rather than at `reading`: its `timestamp`,
 * as `DateTime.formatIso` writes it; nothing when the two agree.
 */
export const movedTimestamp = (sql: SqlClient.SqlClient, move: {
  readonly written: string
  readonly reading: Statement.Fragment
}): Statement.Fragment => {
  const written = sql.literal(move.written)
  const iso = sql.literal(`to_char(${move.written} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`)
  return sql`CASE WHEN ${written} = ${move.reading} THEN '{}'::jsonb ELSE jsonb_build_object('timestamp', ${iso}) END`
}
