/** How the PostgreSQL store reports failures that are not domain outcomes. */
import * as Effect from "effect/Effect"
import { isUnhandled, toStorageError, type Unhandled } from "../internal/storageError.js"
import type { StorageError } from "../StoreErrors.js"
import { retryOutermost, retryOutside } from "./transaction.js"

/** A method's failures reported as `storageErrors` says, around `retry`. */
const reported = (operation: string, retry: <A, E, R>(work: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unhandled> | StorageError, R> =>
  retry(Effect.uninterruptible(Effect.mapError(self, (error) =>
    // Everything else in E is neither of the two handled.
    isUnhandled(error) ? toStorageError(operation, error) : error as Exclude<E, Unhandled>)))

/**
 * The last step of every store method: a driver or encode failure becomes
 * the method's `StorageError` (internal/storageError.ts). Called outside a
 * transaction, the method runs again after a transient failure (`retryOutermost`).
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
export const storageErrors = (operation: string) => reported(operation, retryOutermost)

/** `storageErrors` for a method its caller runs outside any transaction (it checked): retried without looking again. */
export const storageErrorsOutside = (operation: string) => reported(operation, retryOutside)
