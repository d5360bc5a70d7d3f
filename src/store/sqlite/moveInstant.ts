/**
 * The instant a move of a job is written at, in the statement that makes it
 * (a claim, a running job's end): PostgreSQL's moveInstant.ts says why. The
 * caller's clock reading unless the job changed at or after it; then the
 * job's last change (`updated_at`) — or 1 ms after the job's latest record
 * if that record would sort at or after the move's first. Only then is the
 * job's history read (the log's (job_id, timestamp) index). Stored instants
 * are ISO text of one length, so they compare as text.
 */

import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

/** Sorts after every event id (lower-case hex): a move without records has no first one. */
export const AFTER_EVERY_ID = "g"

/**
 * The move's instant as SQL text, for the job row `job` (a table name or
 * alias with `id` and `updated_at`). Its parameters, in order: the reading,
 * the reading again, the move's first record id.
 */
export const moveInstantText = (job: string): string =>
  `CASE WHEN ${job}.updated_at < ? THEN ? ELSE COALESCE((
      SELECT strftime('%Y-%m-%dT%H:%M:%fZ', max(f.timestamp), '+0.001 seconds') FROM flight_recorder_events f
      WHERE f.job_id = ${job}.id AND (f.timestamp, f.event_id) >= (${job}.updated_at, ?)
    ), ${job}.updated_at) END`

/**
 * The instant of a write that follows a job's last change (`last`, an ISO
 * text: the job's `updated_at`, or recovery's later of the job's and its
 * run's), as PostgreSQL's `instantAfter` (moveInstant.ts): the reading if
 * `last` is before it; else `last`, or 1 ms after the job's latest record if
 * that record would sort at or after the write's first id (`firstId`, or any
 * id at or below it the writer minted first). A writer on a clock behind the
 * change mints smaller ids: at `last` itself it would be listed before it.
 */
export const instantAfter = (sql: SqlClient.SqlClient, write: {
  readonly reading: string
  readonly last: Statement.Fragment
  readonly jobId: Statement.Fragment
  readonly firstId: string
}): Statement.Fragment =>
  sql`CASE WHEN ${write.last} < ${write.reading} THEN ${write.reading} ELSE COALESCE((
      SELECT strftime('%Y-%m-%dT%H:%M:%fZ', max(f.timestamp), '+0.001 seconds') FROM flight_recorder_events f
      WHERE f.job_id = ${write.jobId} AND (f.timestamp, f.event_id) >= (${write.last}, ${write.firstId})
    ), ${write.last}) END`
