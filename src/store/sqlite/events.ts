/**
 * The Flight Recorder sink on SQLite (R10, R11, R13): append, list by
 * envelope fields and time, and purge in short batches.
 *
 * The table is append-only by trigger (migration 0003). The one way to delete
 * is a retention grant: purge inserts it, deletes a batch older than its
 * cutoff and removes it again, all in one transaction no other connection sees.
 * A batch that deleted events moves the retention horizon (migration 0031) in
 * that transaction too, so the views can say what retention removed.
 */
import type { Fragment } from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import { pageSize } from "../internal/cursor.js"
import { RetentionHorizon } from "../../domain/RetentionHorizon.js"
import { decodeRows, rowDecoder } from "../internal/decodeRow.js"
import type { EventFilter, JobStore } from "../JobStore.js"
import { keyed } from "../internal/eventKeys.js"
import { windowMillis } from "../internal/retentionWindow.js"
import { decodeMillisecondCursor, pageOf } from "../internal/cursor.js"
import { decode } from "./rows.js"
import { storageErrors } from "./errors.js"
import { EVENTS_PER_STATEMENT, type SqliteContext } from "./context.js"
import { filterBound, instantBound } from "./rows.js"

type Service = JobStore["Type"]

const decodeHorizon = rowDecoder(RetentionHorizon, "flight_recorder_retention_horizon", "horizon_id")

/** The event methods of the SQLite store. */
export const makeEventMethods = ({ afterErasure, sql, transaction, insertEvents }: SqliteContext) => {
  const appendEvents: Service["appendEvents"] = Effect.fnUntraced(
    function*(events) {
      if (events.length === 0) return
      // Up to one statement's worth of events is one INSERT, atomic by itself.
      yield* events.length <= EVENTS_PER_STATEMENT ? transaction.single(insertEvents(events)) : transaction.join(insertEvents(events))
    },
    storageErrors("JobStore.appendEvents")
  )

  const listEvents: Service["listEvents"] = Effect.fnUntraced(
    function*(filter: EventFilter = {}) {
      const limit = pageSize(filter.limit)
      // A cursor continues in its own order (cursor.ts): it decides when given.
      const key = filter.cursor === undefined ? undefined : yield* decodeMillisecondCursor(filter.cursor, "events", filter.order)
      const descending = (key?.order ?? filter.order) === "desc"
      const where: Array<Fragment> = []
      if (filter.event_id !== undefined) where.push(sql`event_id = ${filter.event_id}`)
      // Not indexable when a narrower key is given (eventKeys.ts): a unary `+` keeps SQLite's planner off the job index.
      if (filter.job_id === null) where.push(keyed(filter) ? sql`+job_id IS NULL` : sql`job_id IS NULL`)
      else if (filter.job_id !== undefined) where.push(sql`job_id = ${filter.job_id}`)
      if (filter.trace_id !== undefined) where.push(sql`trace_id = ${filter.trace_id}`)
      if (filter.workflow_run_id !== undefined) where.push(sql`workflow_run_id = ${filter.workflow_run_id}`)
      if (filter.types !== undefined) where.push(sql.in("type", filter.types))
      // A time range is [since, until): consecutive ranges never share an event.
      if (filter.since !== undefined) where.push(sql`timestamp >= ${filterBound(filter.since)}`)
      if (filter.until !== undefined) where.push(sql`timestamp < ${filterBound(filter.until)}`)
      if (key !== undefined) {
        const { at, id } = key
        where.push(descending ? sql`(timestamp, event_id) < (${at}, ${id})` : sql`(timestamp, event_id) > (${at}, ${id})`)
      }
      const order = descending ? sql.literal("timestamp DESC, event_id DESC") : sql.literal("timestamp, event_id")
      const rows = yield* sql`
        SELECT * FROM flight_recorder_events WHERE ${sql.and(where)}
        ORDER BY ${order}
        LIMIT ${limit + 1}`
      const items = yield* decodeRows(decode.event)(rows.slice(0, limit))
      return pageOf(items, rows.length > limit, (event) => [event.timestamp, event.event_id], {
        listing: "events",
        order: descending ? "desc" : "asc"
      })
    },
    storageErrors("JobStore.listEvents")
  )

  const purgeEventsBatch: Service["purgeEventsBatch"] = Effect.fnUntraced(
    function*(options) {
      const batchSize = Number.isFinite(options.batchSize) ? Math.floor(options.batchSize) : 0
      if (batchSize <= 0) return 0
      const purged = yield* transaction.join(Effect.gen(function*() {
        // Never later than now, which migration 0028 requires of a grant: a purge
        // never deletes events newer than itself. The batch goes by the grant's own cutoff.
        const [grant] = yield* sql<{ readonly grant_id: number; readonly cutoff: string }>`
          INSERT INTO flight_recorder_retention_grants (cutoff)
          VALUES (min(${instantBound(options.before)}, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))
          RETURNING grant_id, cutoff`
        const cutoff = grant?.cutoff ?? ""
        // UPDATE/DELETE ... LIMIT needs a compile-time option: pick the batch by key instead.
        const result = yield* sql`
          DELETE FROM flight_recorder_events
          WHERE event_id IN (
            SELECT event_id FROM flight_recorder_events
            WHERE timestamp < ${cutoff}
            ORDER BY timestamp, event_id
            LIMIT ${batchSize}
          )`.raw
        yield* sql`DELETE FROM flight_recorder_retention_grants WHERE grant_id = ${grant?.grant_id ?? -1}`
        const deleted = (result as { readonly changes?: number }).changes ?? 0
        // Only a later cutoff moves the horizon: the views measure what was lost from the newest.
        // With the window and cutoff asked (0033): the cap above may have moved the cutoff, not the policy.
        if (deleted > 0) {
          yield* sql`
            INSERT INTO flight_recorder_retention_horizon (horizon_id, cutoff, purged_at, window_ms, requested_cutoff)
            VALUES (1, ${cutoff}, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ${windowMillis(options.window)}, ${instantBound(options.before)})
            ON CONFLICT (horizon_id) DO UPDATE SET
              cutoff = excluded.cutoff, purged_at = excluded.purged_at,
              window_ms = excluded.window_ms, requested_cutoff = excluded.requested_cutoff
            WHERE excluded.cutoff > flight_recorder_retention_horizon.cutoff`
        }
        return deleted
      }))
      // A short batch ends a retention run: the purged events' bytes leave the WAL then (erasure.ts).
      yield* afterErasure(purged, purged < batchSize)
      return purged
    },
    storageErrors("JobStore.purgeEventsBatch")
  )

  const retentionHorizon: Service["retentionHorizon"] = Effect.flatMap(
    sql`SELECT horizon_id, cutoff, purged_at, window_ms, requested_cutoff FROM flight_recorder_retention_horizon`,
    ([row]) => row === undefined ? Effect.succeed(null) : decodeHorizon(row)
  ).pipe(storageErrors("JobStore.retentionHorizon"))

  return { appendEvents, listEvents, purgeEventsBatch, retentionHorizon }
}
