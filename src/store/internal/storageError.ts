/**
 * How both stores report a failure that is not a domain outcome: the
 * driver's `SqlError`, or a value that would not encode on its way in (NaN in
 * a payload), becomes the method's `StorageError` naming the operation. An
 * encode failure carries a `DecodeFailure` as its cause (the port's unions
 * have no input-error member for it); a `SqlError` is kept whole, so its
 * driver error (SQLite's code, PostgreSQL's SQLSTATE) stays reachable.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import { DecodeFailure } from "../../domain/Errors.js"
import { unknownOptions } from "../../domain/knownOptions.js"
import { AlreadyExists, StorageError } from "../StoreErrors.js"

/** A failure a store reports as `StorageError`. */
export type Unhandled = SqlError | ParseResult.ParseError

export const isUnhandled = (error: unknown): error is Unhandled => error instanceof SqlError || ParseResult.isParseError(error)

/** The `StorageError` of `operation` for an unhandled failure (or a taken id, where that is one: below). */
export const toStorageError = (operation: string, error: Unhandled | AlreadyExists): StorageError =>
  error instanceof SqlError || error instanceof AlreadyExists
    ? new StorageError({ operation, cause: error })
    : new StorageError({ operation, cause: DecodeFailure.fromParseError("value written", error) })

/**
 * For methods whose errors don't include `AlreadyExists`: there a taken event
 * id is a violated constraint like any other, a `StorageError` of that method.
 */
export const alreadyExistsAsStorageError = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, AlreadyExists> | StorageError, R> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, AlreadyExists> => error instanceof AlreadyExists,
    (cause) => Effect.fail(toStorageError(operation, cause))
  ) as Effect.Effect<A, Exclude<E, AlreadyExists> | StorageError, R>

/**
 * `alreadyExistsAsStorageError` and then a store's own catch of unhandled
 * failures, in one catch (one Effect operation fewer a call, for the hot
 * methods, issue 16): the same errors.
 */
export const storageOrTakenErrors = (operation: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unhandled | AlreadyExists> | StorageError, R> =>
  Effect.catchIf(
    effect,
    (error): error is Extract<E, Unhandled | AlreadyExists> => error instanceof AlreadyExists || isUnhandled(error),
    (error) => Effect.fail(toStorageError(operation, error))
  ) as Effect.Effect<A, Exclude<E, Unhandled | AlreadyExists> | StorageError, R>

/**
 * A store option `known` does not list (a misspelt `durabilty`), as the
 * `StorageError` of `operation` that the stores give a bad option value,
 * naming the key; undefined when every key is known.
 */
export const unknownStoreOptions = (
  options: unknown,
  known: ReadonlyArray<string>,
  subject: string,
  operation: string,
  switches: ReadonlyArray<string> = []
): StorageError | undefined => {
  const unknown = unknownOptions(options, known, subject)
  if (unknown !== undefined) return new StorageError({ operation, cause: unknown })
  const notSwitch = notASwitch(options, switches, subject)
  return notSwitch === undefined ? undefined : new StorageError({ operation, cause: new TypeError(notSwitch) })
}

/**
 * Why one of `switches` is neither true, false nor left out: `readonly: "true"` (an environment
 * variable's text) counted as not read-only, and the file was opened for writes and migrated.
 */
export const notASwitch = (options: unknown, switches: ReadonlyArray<string>, subject: string): string | undefined => {
  if (typeof options !== "object" || options === null) return undefined
  for (const name of switches) {
    const value: unknown = (options as Record<string, unknown>)[name]
    if (value !== undefined && typeof value !== "boolean") {
      return `${subject}.${name} must be true or false, got ${typeof value === "string" ? JSON.stringify(value) : typeof value}`
    }
  }
  return undefined
}
