/**
 * The Flight Recorder sink on PostgreSQL: append, list, and the one way
 * events are ever deleted (a retention grant inside a short transaction; see
 * migrations/pg/0003_flight_recorder.sql). A batch that deleted events moves
 * the retention horizon (migration 0031) in its transaction, so the views can
 * say what retention removed.
 */
import type * as Statement from "@effect/sql/Statement"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { pageSize } from "../internal/cursor.js"
import { decodeRows, rowDecoder } from "../internal/decodeRow.js"
import type { EventFilter, JobStore } from "../JobStore.js"
import { keyed } from "../internal/eventKeys.js"
import { windowMillis } from "../internal/retentionWindow.js"
import { decodeCursor, exactInstant, keyOfEpochMicros, pageOf } from "../internal/cursor.js"
import { columns, countOf, decode, filterBound, Instant, instantBound } from "./rows.js"
import type { PgContext } from "./context.js"
import { storageErrors } from "./errors.js"

type Service = Context.Tag.Service<JobStore>

/** The retention horizon's row: `pg` gives its `timestamptz` columns as `Date`s (`window_ms` is read as float8). */
const decodeHorizon = rowDecoder(
  Schema.Struct({ cutoff: Instant, purged_at: Instant, window_ms: Schema.NullOr(Schema.NonNegativeInt), requested_cutoff: Schema.NullOr(Instant) }),
  "flight_recorder_retention_horizon",
  "horizon_id"
)

/** The event methods of the PostgreSQL store. */
export const makeEventMethods = ({ atomic, insertEvents, sql }: PgContext) => {
  // One INSERT: all or nothing by itself.
  const appendEvents: Service["appendEvents"] = (events) => storageErrors("JobStore.appendEvents")(insertEvents(events))

  const listEvents: Service["listEvents"] = Effect.fnUntraced(
    function*(filter: EventFilter = {}) {
      const size = pageSize(filter.limit)
      // A cursor continues in its own order (cursor.ts): it decides when given.
      const key = filter.cursor === undefined ? undefined : yield* decodeCursor(filter.cursor, "events", filter.order)
      const descending = (key?.order ?? filter.order) === "desc"
      const where: Array<Statement.Fragment> = []
      if (filter.event_id !== undefined) where.push(sql`event_id = ${filter.event_id}`)
      // Not indexable when a narrower key is given (eventKeys.ts): that key's index reads the events.
      if (filter.job_id === null) where.push(keyed(filter) ? sql`num_nulls(job_id) = 1` : sql`job_id IS NULL`)
      else if (filter.job_id !== undefined) where.push(sql`job_id = ${filter.job_id}`)
      if (filter.trace_id !== undefined) where.push(sql`trace_id = ${filter.trace_id}`)
      if (filter.workflow_run_id !== undefined) where.push(sql`workflow_run_id = ${filter.workflow_run_id}`)
      if (filter.types !== undefined) where.push(sql.in("type", filter.types))
      // A time range is [since, until), as on SQLite: consecutive ranges never share an event.
      if (filter.since !== undefined) where.push(sql`"timestamp" >= ${filterBound(filter.since)}::timestamptz`)
      if (filter.until !== undefined) where.push(sql`"timestamp" < ${filterBound(filter.until)}::timestamptz`)
      if (key !== undefined) {
        where.push(descending
          ? sql`("timestamp", event_id) < (${exactInstant(key)}::timestamptz, ${key.id}::uuid)`
          : sql`("timestamp", event_id) > (${exactInstant(key)}::timestamptz, ${key.id}::uuid)`)
      }
      const order = descending ? sql.literal(`"timestamp" DESC, event_id DESC`) : sql.literal(`"timestamp", event_id`)
      // The key to the microsecond, exactly (cursor.ts): events stored before migration 0019 may have them.
      const rows = yield* sql<{ readonly key_micros: string }>`
        SELECT ${sql.literal(columns.event)}, (extract(epoch FROM "timestamp") * 1000000)::int8 AS key_micros
        FROM flight_recorder_events
        WHERE ${sql.and(where)} ORDER BY ${order} LIMIT ${size + 1}`
      const events = yield* decodeRows(decode.event)(rows)
      return pageOf(events.slice(0, size), events.length > size, (event, i) => keyOfEpochMicros(rows[i]!.key_micros, event.event_id), {
        listing: "events",
        order: descending ? "desc" : "asc"
      })
    },
    storageErrors("JobStore.listEvents")
  )

  const purgeEventsBatch: Service["purgeEventsBatch"] = Effect.fnUntraced(
    function*(options: Parameters<Service["purgeEventsBatch"]>[0]) {
      const batchSize = Math.floor(options.batchSize)
      if (!(batchSize > 0)) return 0
      // Never later than the transaction's start (now()), which migration 0028
      // requires of a grant: a purge never deletes events newer than itself.
      const cutoff = sql`LEAST(${instantBound(options.before)}::timestamptz, now())`
      // The grant lets the append-only trigger pass deletes of rows older than
      // the cutoff, in this transaction only; it is gone again before COMMIT.
      const [grant] = yield* sql<{ readonly grant_id: string }>`
        INSERT INTO flight_recorder_retention_grants (cutoff) VALUES (${cutoff})
        RETURNING grant_id`
      const purged = yield* sql`
        WITH expired AS (
          SELECT event_id FROM flight_recorder_events
          WHERE "timestamp" < ${cutoff}
          ORDER BY "timestamp", event_id
          LIMIT ${batchSize}
          FOR UPDATE SKIP LOCKED
        ), purged AS (
          DELETE FROM flight_recorder_events e USING expired
          WHERE e.event_id = expired.event_id
          RETURNING 1
        )
        SELECT count(*) AS count FROM purged`.pipe(Effect.flatMap(countOf))
      yield* sql`DELETE FROM flight_recorder_retention_grants WHERE grant_id = ${grant?.grant_id ?? null}`
      // Only a later cutoff moves the horizon: the views measure what was lost from the newest.
      // With the window and cutoff asked (0033): the cap above may have moved the cutoff, not the policy.
      if (purged > 0) {
        yield* sql`
          INSERT INTO flight_recorder_retention_horizon AS h (horizon_id, cutoff, purged_at, window_ms, requested_cutoff)
          VALUES (1, ${cutoff}, now(), ${windowMillis(options.window)}, ${instantBound(options.before)}::timestamptz)
          ON CONFLICT (horizon_id) DO UPDATE SET
            cutoff = excluded.cutoff, purged_at = excluded.purged_at,
            window_ms = excluded.window_ms, requested_cutoff = excluded.requested_cutoff
          WHERE excluded.cutoff > h.cutoff`
      }
      return purged
    },
    atomic,
    storageErrors("JobStore.purgeEventsBatch")
  )

  const retentionHorizon: Service["retentionHorizon"] = Effect.flatMap(
    sql`SELECT horizon_id, cutoff, purged_at, window_ms::float8 AS window_ms, requested_cutoff FROM flight_recorder_retention_horizon`,
    ([row]) => row === undefined ? Effect.succeed(null) : decodeHorizon(row)
  ).pipe(storageErrors("JobStore.retentionHorizon"))

  return { appendEvents, listEvents, purgeEventsBatch, retentionHorizon }
}
