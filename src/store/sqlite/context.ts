/**
 * The SQLite store context every group of methods is built from: the
 * client, the write transaction, and the event insert that changes reuse —
 * the same shape as pg/context.ts.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type { EventRecord } from "../../domain/EventRecord.js"
import { firstStoredOrRepeated, takenInBatch } from "../internal/firstTaken.js"
import type { AlreadyExists } from "../StoreErrors.js"
import { sqliteCode } from "./errors.js"
import { type AfterErasure, makeAfterErasure } from "./erasure.js"
import { EVENT_COLUMNS, eventValues } from "./rowCodec.js"
import { holdingConnection } from "./ownClient.js"
import { runThrough, type Step, type StepFailure } from "./step.js"
import type { WriteTransaction } from "./transaction.js"

/** Writes event records inside the caller's transaction; a taken event id is `AlreadyExists` naming it. */
export type InsertEvents = (
  events: ReadonlyArray<EventRecord>
) => Effect.Effect<void, AlreadyExists | SqlError | ParseResult.ParseError>

/** The pieces each group of store methods is built from. */
export interface SqliteContext {
  readonly sql: SqlClient.SqlClient
  /**
   * One `BEGIN IMMEDIATE` transaction (a savepoint when nested) for a change
   * of several statements; `transaction.single` for a change of one.
   */
  readonly transaction: WriteTransaction
  readonly insertEvents: InsertEvents
  readonly exec: Exec
  /**
   * Runs a store method's change written as a step (step.ts), as
   * `transaction.join` runs an Effect: in the caller's transaction when there
   * is one, else in one of its own; synchronously on the store's own client.
   */
  readonly change: <A, E extends StepFailure = StepFailure>(make: () => Step<A>) => Effect.Effect<A, E>
  /** Told after a prune or purge how many rows it removed: clears their bytes from the WAL (erasure.ts). */
  readonly afterErasure: AfterErasure
}

/**
 * Runs one statement of fixed text (`?` placeholders): on the transaction's
 * connection when inside one, else the client's; without @effect/sql's
 * per-statement compile, span and scope (issue 16); the client's cache
 * prepares each text once.
 */
export type Exec = <Row = Record<string, unknown>>(
  text: string,
  params?: ReadonlyArray<unknown>
) => Effect.Effect<ReadonlyArray<Row>, SqlError>

const makeExec = (sql: SqlClient.SqlClient): Exec => {
  // Outside a transaction: the client's connection, held until the statement has run, without span (ownClient.ts).
  const holding = holdingConnection(sql)
  return (text, params = []) =>
    Effect.withFiberRuntime((fiber) => {
      const transaction = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)
      return (transaction._tag === "Some"
        ? transaction.value[0].execute(text, params, undefined)
        : holding((conn) => conn.execute(text, params, undefined))) as Effect.Effect<ReadonlyArray<never>, SqlError>
    })
}

export const makeContext = (sql: SqlClient.SqlClient, transaction: WriteTransaction): SqliteContext => {
  const exec = makeExec(sql)
  return {
    sql,
    transaction,
    exec,
    change: (make) => transaction.change(make, exec),
    afterErasure: makeAfterErasure(sql),
    insertEvents: (events) => events.length === 0 ? Effect.void : runThrough<void, AlreadyExists | SqlError>(() => insertEventsStep(events), exec)
  }
}

/** `INSERT ... VALUES (?, ...), ...` for `rows` rows of `columns` (the text, so its prepared statement, is reused). */
export const insertText = (table: string, columns: ReadonlyArray<string>, rows = 1): string => {
  const row = `(${columns.map(() => "?").join(", ")})`
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${Array.from({ length: rows }, () => row).join(", ")}`
}

// 8 columns per row: 500 rows stay far below SQLite's bound-parameter limit.
export const EVENTS_PER_STATEMENT = 500

/** `insertText` for `table`'s `columns` by row count, each count's text made once (the client prepares and caches each text). */
export const insertTexts = (table: string, columns: ReadonlyArray<string>) => {
  const made = new Map<number, string>()
  return (rows: number): string => {
    let text = made.get(rows)
    if (text === undefined) {
      text = insertText(table, columns, rows)
      made.set(rows, text)
    }
    return text
  }
}

/** The INSERT of `rows` events. */
const insertEventsOf = insertTexts("flight_recorder_events", EVENT_COLUMNS)

/**
 * Inserts event records (inside the caller's transaction), as a step
 * (step.ts). A taken event id is `AlreadyExists` naming it.
 */
export function* insertEventsStep(events: ReadonlyArray<EventRecord>): Step<void> {
  for (let start = 0; start < events.length; start += EVENTS_PER_STATEMENT) {
    const chunk = events.slice(start, start + EVENTS_PER_STATEMENT)
    const values: Array<unknown> = []
    for (const event of chunk) values.push(...eventValues(event))
    try {
      yield [insertEventsOf(chunk.length), values]
    } catch (error) {
      // A taken id fails on the primary key, or first on the trigger that
      // refuses INSERT OR REPLACE over an event (migration 0004).
      if (!(error instanceof SqlError) || (sqliteCode(error) !== "SQLITE_CONSTRAINT_PRIMARYKEY" && sqliteCode(error) !== "SQLITE_CONSTRAINT_TRIGGER")) {
        throw error
      }
      const id = yield* takenEventId(chunk.map((row) => row.event_id))
      throw id === undefined ? error : takenInBatch("event", id, events.map((row) => row.event_id))
    }
  }
}

/** The id of `ids` a batch insert could not write, named as on every store (`firstStoredOrRepeated`). */
function* takenEventId(ids: ReadonlyArray<string>): Step<string | undefined> {
  const rows = yield [
    `SELECT event_id FROM flight_recorder_events
      WHERE event_id IN (SELECT value FROM json_each(?))`,
    [JSON.stringify(ids)]
  ]
  return firstStoredOrRepeated(ids, new Set(rows.map((row) => row.event_id as string)))
}
