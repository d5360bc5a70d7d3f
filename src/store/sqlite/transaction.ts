/**
 * Write transactions that take SQLite's write lock up front (`BEGIN IMMEDIATE`)
 * and wait for it without blocking the event loop.
 *
 * Why not `sql.withTransaction`: the SQLite client begins with a plain
 * (deferred) `BEGIN`. A deferred transaction that reads and then writes must
 * upgrade its lock; in WAL mode, if another connection committed in between,
 * the upgrade fails at once with SQLITE_BUSY(_SNAPSHOT) and the busy timeout
 * never applies. Claiming a job or stalling runs reads then writes, so two
 * processes doing it at once would fail instead of waiting. `BEGIN IMMEDIATE`
 * takes the write lock before the first read, so the second process waits.
 *
 * Why not let the busy timeout do the waiting: better-sqlite3 is synchronous,
 * so SQLite's busy handler would freeze the whole Node process while it waits
 * — and when both connections live in one process (two store layers on one
 * file) the holder could never run to release the lock, so the wait would
 * always end in SQLITE_BUSY after the full timeout. Instead the store takes
 * the waiting over: on a connection's first write transaction it reads the
 * `busy_timeout` as its budget and sets it to 0, once (issue 16: before, two
 * PRAGMAs around every BEGIN turned it off and on again, 8 of 31 statements
 * per job). `BEGIN IMMEDIATE` then fails at once when the lock is taken and is
 * retried after short real sleeps (not the Effect Clock: lock waits are about
 * real concurrency, and a TestClock must not stall them) until the budget is
 * spent. Once the lock is held nothing inside the transaction waits for it
 * again (WAL readers never block the writer). The price: a statement run
 * outside these transactions on the same connection no longer sleeps in
 * SQLite's busy handler (a WAL read only meets a lock while another
 * connection recovers the WAL after a crash) — it fails at once instead of
 * freezing the process.
 *
 * The transaction is built with `SqlClient.makeWithTransaction` on the
 * client's own `TransactionConnection` tag, so statements inside it use the
 * transaction's connection, and nested transactions — ours or
 * `sql.withTransaction` — become savepoints as usual.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { sleepRealTime } from "../../util/sleepRealTime.js"
import { sqliteCode } from "./errors.js"

/** Runs an effect inside one write transaction (a savepoint when nested). */
export type WriteTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>

/** Whether a failure is SQLite's "database is locked" (any SQLITE_BUSY variant). */
const isBusy = (error: SqlError): boolean => sqliteCode(error)?.startsWith("SQLITE_BUSY") === true

/**
 * Whether a ROLLBACK failed because no transaction was open: the BEGIN itself
 * failed (lock wait spent), or SQLite already rolled back on its own. The
 * transaction machinery rolls back after any failure and turns a failing
 * ROLLBACK into a defect, which would hide the real, typed error.
 */
const isNoTransaction = (error: SqlError): boolean =>
  /no transaction is active/i.test(String((error.cause as { readonly message?: unknown } | undefined)?.message))

/**
 * The write-lock budget (ms) of each client whose connection's busy timeout
 * the store has taken over (set to 0). A SQLite client has one connection, so
 * the client stands for it; `configureConnection` forgets the entry when it
 * sets the busy timeout again.
 */
const takenOver = new WeakMap<SqlClient.SqlClient, number>()

/** Gives the connection's `busy_timeout` back to SQLite (after `PRAGMA busy_timeout = n` set it anew). */
export const forgetTakeOver = (sql: SqlClient.SqlClient): void => {
  takenOver.delete(sql)
}

const beginImmediate = (conn: Connection, lockWaitMs: number): Effect.Effect<void, SqlError> => {
  const attempt = (startedAt: number, delayMs: number): Effect.Effect<void, SqlError> =>
    Effect.catchIf(
      // Prepared once and cached by the client: this runs on every write.
      conn.execute("BEGIN IMMEDIATE", [], undefined),
      (error) => isBusy(error) && performance.now() - startedAt < lockWaitMs,
      () =>
        Effect.zipRight(
          // Write locks are held for milliseconds, so poll often (at most every ~10 ms);
          // jitter keeps two waiting connections from retrying in lockstep.
          sleepRealTime(delayMs * (0.5 + Math.random())),
          Effect.suspend(() => attempt(startedAt, Math.min(delayMs * 2, 10)))
        )
    )
  return Effect.suspend(() => attempt(performance.now(), 1))
}

/**
 * The budget for waiting on the write lock, in ms: the connection's busy
 * timeout, or what it was when the store took the waiting over.
 */
export const readBusyTimeout: Effect.Effect<number, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const budget = takenOver.get(sql)
  if (budget !== undefined) return budget
  const rows = yield* sql<{ readonly timeout?: unknown }>`PRAGMA busy_timeout`
  const timeout = rows[0]?.timeout
  return typeof timeout === "number" && Number.isInteger(timeout) && timeout >= 0 ? timeout : 5000
})

/**
 * Builds the `BEGIN IMMEDIATE` transaction runner for `sql`, waiting up to
 * `lockWaitMs` for the write lock.
 */
export const makeWriteTransaction = (sql: SqlClient.SqlClient, lockWaitMs: number): WriteTransaction => {
  const run = (conn: Connection, statement: string) => conn.executeUnprepared(statement, [], undefined)
  return SqlClient.makeWithTransaction({
    transactionTag: SqlClient.TransactionConnection,
    spanAttributes: [["db.system.name", "sqlite"]],
    // `reserve` is the client's transaction acquirer: it holds the client's
    // one-connection semaphore until the scope closes, as sql.withTransaction does.
    acquireConnection: Effect.flatMap(
      Scope.make(),
      (scope) => Effect.map(Scope.extend(sql.reserve, scope), (conn) => [scope, conn] as const)
    ),
    begin: (conn) =>
      takenOver.has(sql)
        ? beginImmediate(conn, lockWaitMs)
        // Once per connection: from here on SQLite never sleeps in its busy handler.
        : Effect.zipRight(
          Effect.tap(run(conn, "PRAGMA busy_timeout = 0"), () => Effect.sync(() => takenOver.set(sql, lockWaitMs))),
          beginImmediate(conn, lockWaitMs)
        ),
    savepoint: (conn, id) => run(conn, `SAVEPOINT effect_sql_${id}`),
    commit: (conn) => run(conn, "COMMIT"),
    rollback: (conn) => Effect.catchIf(run(conn, "ROLLBACK"), isNoTransaction, () => Effect.void),
    rollbackSavepoint: (conn, id) => run(conn, `ROLLBACK TO SAVEPOINT effect_sql_${id}`)
  })
}
