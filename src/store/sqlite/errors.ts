/**
 * How the SQLite store reports failures that are not domain outcomes, and
 * reads SQLite's own error codes.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { isUnhandled, toStorageError, type Unhandled } from "../internal/storageError.js"
import { AlreadyExists, StorageError } from "../StoreErrors.js"

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

/**
 * `storageErrors` after `alreadyExistsAsStorageError` (internal/storageError.ts),
 * in one catch: for a method whose `AlreadyExists` (an id it made itself
 * already taken) is a storage failure too — the same errors, one Effect
 * operation fewer per call.
 */
export const storageOrTakenErrors = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unhandled | AlreadyExists> | StorageError, R> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, Unhandled | AlreadyExists> => error instanceof AlreadyExists || isUnhandled(error),
    (error) => Effect.fail(error instanceof AlreadyExists ? new StorageError({ operation, cause: error }) : toStorageError(operation, error as Unhandled))
  ) as Effect.Effect<A, Exclude<E, Unhandled | AlreadyExists> | StorageError, R>
