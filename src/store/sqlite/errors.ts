/**
 * How the SQLite store reports failures that are not domain outcomes, and
 * reads SQLite's own error codes.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { isUnhandled, toStorageError, type Unhandled } from "../internal/storageError.js"
import type { StorageError } from "../StoreErrors.js"

/** SQLite's extended result code of a failed statement, e.g. `SQLITE_CONSTRAINT_PRIMARYKEY`. */
export const sqliteCode = (error: SqlError): string | undefined => {
  const code = (error.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * The last step of every store method: a driver or encode failure becomes
 * the method's `StorageError` (internal/storageError.ts).
 */
export const storageErrors = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unhandled> | StorageError, R> =>
  Effect.catchIf(effect, isUnhandled, (error) => Effect.fail(toStorageError(operation, error))) as Effect.Effect<
    A,
    Exclude<E, Unhandled> | StorageError,
    R
  >
