/**
 * Whether a write that failed with `StorageError` cannot have committed,
 * because nothing of it ran: then there is nothing to look up (a claim's,
 * a submit's or an eager write's lost answer: claimAnswerLost.ts,
 * createAnswerLost.ts, eagerAnswerLost.ts). Read only on a failure's path.
 */
import { SqlError } from "@effect/sql/SqlError"
import { isLockWaitCut } from "../../store/internal/lockWaitCut.js"
import { isSentAfterSessionEnd } from "../../store/internal/sentAfterSessionEnd.js"
import type { StorageError } from "../../store/StoreErrors.js"
import { isStoreClosed } from "../storeClosed.js"

/**
 * No connection could be had (the database down, refusing connections) —
 * both PostgreSQL paths, the store's held connections and @effect/sql-pg's
 * pool, say "Failed to acquire connection" — or the statement was sent on a
 * connection whose server had already ended the session
 * (sentAfterSessionEnd.ts: a `pg_ctl stop` or `pg_terminate_backend` heard
 * while the connection was idle; any transaction open on it was rolled
 * back), or the store was closed (its layer's scope: nothing will reopen
 * it), or its wait for SQLite's write lock was cut (lockWaitCut.ts: a
 * pool's claim when its drain ended). During an outage every idle loop's
 * claim fails so, and would wait and warn for each; a submit would warn that
 * a job nobody wrote may be queued.
 * A session ended while the statement was under way (the FATAL its answer)
 * is not this: it may have committed.
 */
export const nothingRan = (error: StorageError): boolean => {
  const cause = error.cause
  return isStoreClosed(error) || isLockWaitCut(cause) ||
    (cause instanceof SqlError && (cause.message.startsWith("Failed to acquire connection") || isSentAfterSessionEnd(cause.cause)))
}
