/**
 * Whether a store's `StorageError` is the database failing — unreachable, the
 * connection lost, the session ended by the server (a restart, an admin's
 * `pg_terminate_backend`, an idle-session timeout), out of a resource, a lock
 * not got in time on SQLite — rather than refusing the statement: the same
 * write may go through once the database is back, so a worker's write for
 * its run is tried again (internal/jobs/writeAgain.ts). A refusal — a
 * constraint, a value that would not encode, a statement timeout — would be
 * refused again. Each dialect's own rule on the driver's error
 * (pg/faults.ts, sqlite/faults.ts); a failure no driver reported is a
 * refusal.
 */
import { isDatabaseFailure as pgFailed } from "../pg/faults.js"
import { isDatabaseFailure as sqliteFailed } from "../sqlite/faults.js"
import type { StorageError } from "../StoreErrors.js"
import { sqlErrorIn } from "./sqlErrorIn.js"

/** True when `error`, a store of `dialect`'s, says the database failed rather than refused the write. */
export const isOutage = (dialect: "sqlite" | "pg", error: StorageError): boolean => {
  const driverFailure = sqlErrorIn(error)
  if (driverFailure === undefined) return false
  return dialect === "pg" ? pgFailed(driverFailure) : sqliteFailed(driverFailure)
}
