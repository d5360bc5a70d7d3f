/**
 * Whether a PostgreSQL failure is the connection lost rather than a statement
 * refused: what makes a failure while the store opens or migrates a
 * `StorageError` (the database failed; opening again may work) instead of a
 * `MigrationFailed` (the database refused; it will refuse again).
 */
import { SqlError } from "@effect/sql/SqlError"

/** Operator intervention that ends the session: admin shutdown, crash shutdown, cannot connect now. */
const SESSION_ENDED = new Set(["57P01", "57P02", "57P03"])

/**
 * Whether the driver's error is no answer to the statement: no server
 * severity (the socket closed — pg's "Connection terminated unexpectedly",
 * "… not queryable", ECONNRESET, a read timeout), the server ending the
 * session (FATAL, PANIC), or SQLSTATE class 08 or 57P01–57P03. A statement
 * the server refused at ERROR level (a syntax error, a constraint, a
 * permission, a lock or statement timeout) is not.
 */
const driverLostConnection = (cause: unknown): boolean => {
  const { code, severity } = (cause ?? {}) as { readonly code?: unknown; readonly severity?: unknown }
  if (typeof severity !== "string") return true
  if (severity === "FATAL" || severity === "PANIC") return true
  return typeof code === "string" && (code.startsWith("08") || SESSION_ENDED.has(code))
}

/** Whether `error` is a `SqlError` whose driver error is the connection lost (see `driverLostConnection`). */
export const isConnectionLost = (error: SqlError): boolean => driverLostConnection(error.cause)

/** The first `SqlError` in `error`'s `cause` chain (a few levels down: a MigrationFailed, the Migrator's defect), if any. */
export const sqlErrorIn = (error: unknown): SqlError | undefined => {
  let current = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof SqlError) return current
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}
