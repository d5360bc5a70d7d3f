/**
 * The PostgreSQL store context every group of methods is built from: the
 * client, the transaction, and the event insert that changes reuse — the
 * same shape as sqlite/context.ts.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import type { EventRecord } from "../../domain/EventRecord.js"
import { AlreadyExists } from "../StoreErrors.js"
import { columns, encodeJson } from "./rows.js"
import { inTransaction } from "./transaction.js"

/**
 * Writes event records in one multi-row INSERT. Run it inside a transaction:
 * a taken event id fails with `AlreadyExists` (naming it) after the other rows
 * went in, and only the rollback makes that all-or-nothing.
 */
export type InsertEvents = (
  events: ReadonlyArray<EventRecord>
) => Effect.Effect<void, AlreadyExists | SqlError | ParseError>

/** The pieces each group of store methods is built from. */
export interface PgContext {
  readonly sql: SqlClient.SqlClient
  /** One transaction (a savepoint when nested); a dead connection is a typed `SqlError`. */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  readonly insertEvents: InsertEvents
}

export const makeContext = (sql: SqlClient.SqlClient): PgContext => {
  const insertEvents: InsertEvents = (events) =>
    events.length === 0 ? Effect.void : Effect.gen(function*() {
      // ON CONFLICT instead of catching the unique violation: the taken id
      // comes from RETURNING, not from parsing a (translatable) error text.
      const inserted = yield* sql<{ readonly event_id: string }>`
        INSERT INTO flight_recorder_events (${sql.literal(columns.event)})
        SELECT ${sql.literal(columns.event)}
        FROM jsonb_to_recordset(${yield* encodeJson.events(events)}::jsonb) AS e(
          event_id uuid, "timestamp" timestamptz, actor text, type text,
          trace_id uuid, job_id uuid, workflow_run_id uuid, body jsonb)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id`
      if (inserted.length === events.length) return
      const fresh = new Set(inserted.map((row) => row.event_id))
      const taken = events.find((event) => !fresh.delete(event.event_id.toLowerCase()))
      return yield* new AlreadyExists({ entity: "event", id: taken?.event_id ?? "(unknown)" })
    })
  return { sql, transaction: inTransaction(sql), insertEvents }
}
