/**
 * PostgreSQL transactions: `sql.withTransaction` with a dead connection's
 * failure kept typed, and a whole transaction run again after a deadlock or
 * serialization failure. (SQLite's differ: see sqlite/transaction.ts.)
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { sleepRealTime } from "../../util/sleepRealTime.js"
import { transactionOf } from "../internal/execute.js"
import { StorageError } from "../StoreErrors.js"
import { isStalePreparedStatement } from "./preparedStatements.js"

/**
 * SQLSTATEs after which the whole transaction can simply run again: the
 * server rolled it back to break a deadlock (40P01), or because a
 * serializable/repeatable-read snapshot met a concurrent change (40001).
 */
const TRANSIENT = new Set(["40P01", "40001"])

/**
 * Whether `error` — a SqlError, or a StorageError wrapping one — is a
 * transient failure. A named statement the server refused after a schema
 * change is one too: it aborted its transaction before running, and every
 * connection prepares afresh (preparedStatements.ts).
 */
export const isTransient = (error: unknown): boolean => {
  const sqlError = error instanceof StorageError ? error.cause : error
  if (!(sqlError instanceof SqlError)) return false
  const code = (sqlError.cause as { readonly code?: unknown } | undefined)?.code
  return (typeof code === "string" && TRANSIENT.has(code)) || isStalePreparedStatement(sqlError.cause)
}

/** The pause after the `attempt`-th transient failure: 10, 20, 40, 80 ms …, jittered ×0.5–1.5, in real time. */
export const transientPause = (attempt: number) => sleepRealTime(10 * 2 ** (attempt - 1) * (0.5 + Math.random()))

/** Attempts before a transient failure is reported: the first and 4 retries. */
export const TRANSACTION_ATTEMPTS = 5

const retryTransient = <A, E, R>(work: Effect.Effect<A, E, R>, attempt = 1): Effect.Effect<A, E, R> =>
  Effect.catchIf(
    work,
    (error) => attempt < TRANSACTION_ATTEMPTS && isTransient(error),
    () => Effect.zipRight(transientPause(attempt), retryTransient(work, attempt + 1))
  )

/**
 * Runs `work` again after a transient failure, up to `TRANSACTION_ATTEMPTS`
 * times in all, after a short jittered real-time pause (10, 20, 40, 80 ms …)
 * — but only where `work` is the whole transaction: outside any open one. A
 * failed transaction was rolled back whole, so running it again is running
 * it for the first time; inside an open transaction (a savepoint) the server
 * aborted the whole, so only the outermost level may run again.
 */
export const retryOutermost = <A, E, R>(work: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  byTransaction(() => work, () => retryTransient(work))

/**
 * `sql.withTransaction`, but a ROLLBACK or COMMIT that fails — the connection
 * died mid-transaction (`pg_terminate_backend`, a server restart) — is a typed
 * `SqlError` failure, as the statement's own failure would have been, not the
 * defect @effect/sql raises. Nothing was committed either way. (Transient
 * failures are retried one level up, by `storageErrors` or the store's
 * `transaction`, around the whole transaction.)
 */
export const inTransaction = (sql: SqlClient.SqlClient) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  sql.withTransaction(effect).pipe(
    Effect.catchAllDefect((defect) => defect instanceof SqlError ? Effect.fail(defect) : Effect.die(defect))
  )

/** `inside()` within a transaction, else `outside()`: one Effect operation to choose. */
export const byTransaction = <A, E, R, B, E2, R2>(
  inside: () => Effect.Effect<A, E, R>,
  outside: () => Effect.Effect<B, E2, R2>
): Effect.Effect<A | B, E | E2, R | R2> =>
  Effect.withFiberRuntime<A | B, E | E2, R | R2>((fiber) => Option.isSome(transactionOf(fiber)) ? inside() : outside())

/** Whether the current fiber is inside a transaction. */
export const insideTransaction: Effect.Effect<boolean> = Effect.withFiberRuntime((fiber) =>
  Effect.succeed(Option.isSome(transactionOf(fiber)))
)

/**
 * A store method's own atomicity: `inTransaction` when no transaction is
 * open; inside the caller's, the method's statements simply join it — no
 * savepoint, one round trip saved per level (see "Auditing a change" in
 * JobStore.ts for what that asks of a caller who catches a failure).
 */
export const joinOrBegin = (sql: SqlClient.SqlClient) => {
  const begin = inTransaction(sql)
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    byTransaction(() => effect, () => begin(effect))
}
