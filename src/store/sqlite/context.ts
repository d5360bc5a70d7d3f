/**
 * The SQLite store context every group of methods is built from: the
 * client, the write transaction, and the event insert that changes reuse —
 * the same shape as pg/context.ts.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type { EventRecord } from "../../domain/EventRecord.js"
import { AlreadyExists } from "../StoreErrors.js"
import { sqliteCode } from "./errors.js"
import { encode } from "./rows.js"
import type { WriteTransaction } from "./transaction.js"

/** Writes event records inside the caller's transaction; a taken event id is `AlreadyExists` naming it. */
export type InsertEvents = (
  events: ReadonlyArray<EventRecord>
) => Effect.Effect<void, AlreadyExists | SqlError | ParseResult.ParseError>

/** The pieces each group of store methods is built from. */
export interface SqliteContext {
  readonly sql: SqlClient.SqlClient
  /** One `BEGIN IMMEDIATE` transaction (a savepoint when nested). Every write goes through it. */
  readonly transaction: WriteTransaction
  readonly insertEvents: InsertEvents
}

export const makeContext = (sql: SqlClient.SqlClient, transaction: WriteTransaction): SqliteContext => ({
  sql,
  transaction,
  insertEvents: (events) => insertEvents(sql, events)
})

// 8 columns per row: 500 rows stay far below SQLite's bound-parameter limit.
const EVENTS_PER_STATEMENT = 500

/**
 * Inserts event records (inside the caller's transaction). A taken event id
 * is `AlreadyExists` naming it.
 */
const insertEvents = (
  sql: SqlClient.SqlClient,
  events: ReadonlyArray<EventRecord>
): Effect.Effect<void, AlreadyExists | SqlError | ParseResult.ParseError> =>
  Effect.gen(function*() {
    if (events.length === 0) return
    const rows = yield* Effect.forEach(events, (event) => encode.event(event))
    for (let start = 0; start < rows.length; start += EVENTS_PER_STATEMENT) {
      const chunk = rows.slice(start, start + EVENTS_PER_STATEMENT)
      yield* Effect.catchIf(
        sql`INSERT INTO flight_recorder_events ${sql.insert(chunk)}`,
        // A taken id fails on the primary key, or first on the trigger that
        // refuses INSERT OR REPLACE over an event (migration 0004).
        (error) => sqliteCode(error) === "SQLITE_CONSTRAINT_PRIMARYKEY" || sqliteCode(error) === "SQLITE_CONSTRAINT_TRIGGER",
        (error) =>
          Effect.flatMap(
            takenEventId(sql, chunk.map((row) => row.event_id)),
            (id): Effect.Effect<never, SqlError | AlreadyExists> =>
              id === undefined ? Effect.fail(error) : Effect.fail(new AlreadyExists({ entity: "event", id }))
          )
      )
    }
  })

/** The first id of `ids` that is stored already or repeated within `ids`. */
const takenEventId = (sql: SqlClient.SqlClient, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const seen = new Set<string>()
    for (const id of ids) {
      if (seen.has(id)) return id
      seen.add(id)
    }
    const stored = yield* sql<{ readonly event_id: string }>`
      SELECT event_id FROM flight_recorder_events
      WHERE event_id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))
      LIMIT 1`
    return stored[0]?.event_id
  })
