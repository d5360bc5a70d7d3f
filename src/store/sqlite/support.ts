/**
 * What every SQLite store module shares: the client, the write transaction,
 * the clock, error wrapping and the event insert that state changes reuse.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import type { EventRecord } from "../../domain/EventRecord.js"
import { AlreadyExists, StorageError } from "../StoreErrors.js"
import { clampBound } from "../internal/instants.js"
import { encode } from "./rows.js"
import type { WriteTransaction } from "./transaction.js"

/** The pieces each group of store methods is built from. */
export interface SqliteContext {
  readonly sql: SqlClient.SqlClient
  /** One `BEGIN IMMEDIATE` transaction (a savepoint when nested). Every write goes through it. */
  readonly write: WriteTransaction
}

/**
 * A filter bound or cutoff in the stored text form, for comparisons. Clamped
 * to the stored range (see internal/instants.ts): beyond year 9999 ISO text
 * grows a sign and six digits and would no longer compare as time.
 */
export const instantText = (instant: DateTime.Utc): string => DateTime.formatIso(clampBound(instant))

/** SQLite's extended result code of a failed statement, e.g. `SQLITE_CONSTRAINT_PRIMARYKEY`. */
export const sqliteCode = (error: SqlError): string | undefined => {
  const code = (error.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/** A failure the store reports as `StorageError`: the driver's, or a value that would not encode. */
type Wrapped = SqlError | ParseResult.ParseError

const isWrapped = (error: unknown): error is Wrapped => error instanceof SqlError || ParseResult.isParseError(error)

/**
 * Wraps driver failures (and encode failures) as `StorageError` naming the
 * operation, keeping the original as `cause`.
 */
export const storageErrors = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Wrapped> | StorageError, R> =>
  Effect.catchIf(
    effect,
    isWrapped,
    (cause) => Effect.fail(new StorageError({ operation, cause }))
  ) as Effect.Effect<A, Exclude<E, Wrapped> | StorageError, R>

/** For methods whose errors don't include `AlreadyExists` (a duplicate event id there is a storage failure). */
export const alreadyExistsAsStorageError = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, AlreadyExists> | StorageError, R> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, AlreadyExists> => error instanceof AlreadyExists,
    (cause) => Effect.fail(new StorageError({ operation, cause }))
  ) as Effect.Effect<A, Exclude<E, AlreadyExists> | StorageError, R>

// 8 columns per row: 500 rows stay far below SQLite's bound-parameter limit.
const EVENTS_PER_STATEMENT = 500

/**
 * Inserts event records (inside the caller's transaction). A taken event id
 * is `AlreadyExists` naming it.
 */
export const insertEvents = (
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
