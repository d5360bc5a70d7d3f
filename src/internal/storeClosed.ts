/**
 * Whether a `StorageError` says the store's own database handle was closed
 * (its layer's scope closed): better-sqlite3's closed connection, pg's ended
 * pool. Not an outage — nothing will reopen it — so a write tried again while
 * the database fails (a run's end) stops at once on it. Read only on a
 * failure's path.
 */
import type { StorageError } from "../store/StoreErrors.js"

const CLOSED_MESSAGES: ReadonlyArray<string> = [
  // better-sqlite3, once `close()` was called
  "The database connection is not open",
  // pg-pool, once `end()` was called
  "Cannot use a pool after calling end on the pool"
]

/** True when the driver's error in `error`'s cause chain is that of a closed connection or ended pool. */
export const isStoreClosed = (error: StorageError): boolean => {
  let cause: unknown = error.cause
  // The driver's error sits under @effect/sql's SqlError, itself perhaps wrapped once more.
  for (let depth = 0; depth < 5 && typeof cause === "object" && cause !== null; depth++) {
    const message = (cause as { readonly message?: unknown }).message
    if (typeof message === "string" && CLOSED_MESSAGES.some((closed) => message.includes(closed))) return true
    cause = (cause as { readonly cause?: unknown }).cause
  }
  return false
}
