/** How the PostgreSQL store reports failures that are not domain outcomes. */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { isUnhandled, toStorageError, type Unhandled } from "../internal/storageError.js"
import type { StorageError } from "../StoreErrors.js"
import { isDatabaseFailure } from "./faults.js"
import { insideTransaction, isTransient, TRANSACTION_ATTEMPTS, transientPause } from "./transaction.js"

type Reported<E> = Exclude<E, Unhandled> | StorageError

/**
 * A method's failures reported as `storageErrors` says, in one handler: a
 * transient failure runs the method again (after a short jittered real-time
 * pause, as `retryOutermost`) while `mayRetry` says so; any other failure,
 * and the last transient one, is mapped. The handler runs only on failure,
 * so a call that succeeds pays one operation for it, not a lookup of the
 * transaction, a retry and a mapping apiece (issue 16).
 */
const reported = (
  operation: string,
  mayRetry: Effect.Effect<boolean>,
  guard: <A, E, R>(attempt: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Reported<E>, R> => {
  const report = (error: E): Effect.Effect<never, Reported<E>> =>
    // Everything else in E is neither of the two handled.
    Effect.fail(isUnhandled(error) ? toStorageError(operation, error) : error as Exclude<E, Unhandled>)
  const attempt = (n: number): Effect.Effect<A, Reported<E>, R> =>
    Effect.catchAll(guard(self), (error) =>
      n < TRANSACTION_ATTEMPTS && isTransient(error)
        ? Effect.flatMap(mayRetry, (retry) =>
          retry ? Effect.zipRight(transientPause(n), attempt(n + 1)) : report(error))
        : report(error))
  return attempt(1)
}

/** Whether no transaction is open: the method is the whole transaction, and may run again. */
const outermost: Effect.Effect<boolean> = Effect.map(insideTransaction, (inside) => !inside)

/**
 * The last step of every store method: a driver or encode failure becomes
 * the method's `StorageError` (internal/storageError.ts). Called outside a
 * transaction, the method runs again after a transient failure (as `retryOutermost`).
 *
 * Each attempt runs to its end even if the caller is interrupted meanwhile
 * (the interrupt takes effect right after it). @effect/sql-pg answers an
 * interrupt by sending `pg_cancel_backend` for the statement's connection and
 * handing the connection back to the pool once that returns — but the
 * server acts on a cancel asynchronously, so it could land on the next
 * statement sent on that connection: another fiber's submit failed with
 * "canceling statement due to user request" (57014) after a worker's
 * heartbeat was interrupted at the end of its job. The store's statements are
 * short and atomic; finishing one is cheaper than risking another's.
 */
export const storageErrors = (operation: string) => reported(operation, outermost, Effect.uninterruptible)

/**
 * `storageErrors` for a method its caller runs outside any transaction (it
 * checked) and uninterruptibly already — group commit's line (internal/coalesce.ts
 * runs every call uninterruptible): retried without looking again, and no
 * second uninterruptible region.
 */
export const storageErrorsOutside = (operation: string) => reported(operation, Effect.succeed(true), (attempt) => attempt)

/**
 * Whether a `SqlError` is no fault of the rows its statement carried: the
 * database failed (faults.ts `isDatabaseFailure`: no answer came, the
 * session ended, it ran out of a resource or is shutting down), so the same
 * statement for fewer rows would fail the same way. Not a statement timeout
 * (57014) nor a lock timeout (55P03): the wait that ran out may be one row's
 * — a caller-given job id another transaction has just inserted and not
 * committed, a job row another transaction holds — and the other rows, run
 * alone, go through (found by a probe of this rule: 39 of 40 submits failed
 * for one duplicate id's wait).
 */
export const isNoRowsFault: (error: SqlError) => boolean = isDatabaseFailure

/**
 * Group commit's `failsEvery` (internal/coalesce.ts) for `operation`: a
 * shared statement's failure that is no member's fault (`isNoRowsFault`) is
 * every member's `StorageError` at once, as its own statement would have
 * ended; any other sends each member to run alone.
 */
export const sharedStorageError = (operation: string) => (error: unknown): StorageError | undefined =>
  error instanceof SqlError && isNoRowsFault(error) ? toStorageError(operation, error) : undefined
