/**
 * What a PostgreSQL driver failure says, in one place: the SQLSTATE classes
 * (PostgreSQL's Appendix A) are named once here and every question the store
 * asks of a failure is built from them, so the answers cannot drift apart.
 *
 * - `endsSession`: the server ended the session with this message.
 * - `breaksSession` (held connections): is the connection unfit for its next statement?
 * - `isDatabaseFailure` (opening, migrating, group commit): did the database
 *   fail, rather than refuse this statement? A session broken is one such failure.
 */
import type { SqlError } from "@effect/sql/SqlError"

/** Class 08, connection exception: the connection failed or could not be made. */
const CONNECTION_EXCEPTION = "08"
/** Class 53, insufficient resources: disk full (53100), out of memory (53200), too many connections (53300). */
const INSUFFICIENT_RESOURCES = "53"
/** Class 57, operator intervention: a shutdown (57P01-57P03), the database dropped (57P04), a cancel (57014). */
const OPERATOR_INTERVENTION = "57"
/** Class 58, system error: an I/O error (58030), a file the server expected missing or duplicated. */
const SYSTEM_ERROR = "58"
/**
 * query_canceled (class 57): a statement timeout or a cancel. It ends this
 * statement's wait only — the wait may be on one row another transaction
 * holds, and the database refuses the same statement the same way again.
 */
const QUERY_CANCELED = "57014"

/** Classes of the database failing — its connection, its resources, its operator, its system — whatever the statement. */
const DATABASE_FAILURE_CLASSES: ReadonlySet<string> = new Set([CONNECTION_EXCEPTION, INSUFFICIENT_RESOURCES, OPERATOR_INTERVENTION, SYSTEM_ERROR])

/** A driver error's server fields as pg reads them from an ErrorResponse; absent when no server answered. */
interface ServerFields {
  readonly code?: unknown
  readonly severity?: unknown
}

const fieldsOf = (driverError: unknown): ServerFields => (driverError ?? {}) as ServerFields

/**
 * No server answer: pg's socket errors (ECONNRESET, "Connection terminated
 * unexpectedly", "… not queryable"), its read timeout, a connection never
 * made, or anything the driver threw itself — no SQLSTATE with a severity.
 */
const unanswered = ({ code, severity }: ServerFields): boolean => typeof severity !== "string" || typeof code !== "string"

/** Whether a server message (`severity` FATAL or PANIC) ends its session: the server closes the connection after it. */
export const endsSession = (message: ServerFields): boolean => message.severity === "FATAL" || message.severity === "PANIC"

/**
 * Whether a statement's failure leaves its connection unfit for the next
 * statement — the connection lost: no answer came (the statement may still
 * be running, or the socket is gone, and a COMMIT's answer may be what was
 * lost), or the server ended the session. A server error at ERROR level of
 * any class — a full disk included — ends the statement, not the session.
 */
export const breaksSession = (driverError: unknown): boolean => {
  const fields = fieldsOf(driverError)
  return unanswered(fields) || endsSession(fields)
}

/**
 * Whether a driver error is the database failing rather than refusing the
 * statement: no answer, the session ended, or SQLSTATE class 08, 53, 57 or
 * 58 — but not a statement timeout or cancel (57014). The same statement
 * may go through once the database recovers (a disk freed, a server
 * restarted), and it would fail the same for any other rows. A refusal —
 * syntax (42601), a constraint (23xxx), a permission (42501), a lock timeout
 * (55P03), a read-only transaction (25006), a statement timeout — is not.
 */
export const isDatabaseFailure = (error: SqlError): boolean => {
  if (breaksSession(error.cause)) return true
  const code = fieldsOf(error.cause).code as string
  return code !== QUERY_CANCELED && DATABASE_FAILURE_CLASSES.has(code.slice(0, 2))
}
