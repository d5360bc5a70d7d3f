/**
 * How both stores report a failure that is not a domain outcome: the
 * driver's `SqlError`, or a value that would not encode on its way in (NaN in
 * a payload), becomes the method's `StorageError` naming the operation. An
 * encode failure carries a `DecodeFailure` as its cause (the port's unions
 * have no input-error member for it); a `SqlError` is kept whole, so its
 * driver error (SQLite's code, PostgreSQL's SQLSTATE) stays reachable.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as ParseResult from "effect/ParseResult"
import { DecodeFailure } from "../../domain/Errors.js"
import { StorageError } from "../StoreErrors.js"

/** A failure a store reports as `StorageError`. */
export type Unhandled = SqlError | ParseResult.ParseError

export const isUnhandled = (error: unknown): error is Unhandled => error instanceof SqlError || ParseResult.isParseError(error)

/** The `StorageError` of `operation` for an unhandled failure. */
export const toStorageError = (operation: string, error: Unhandled): StorageError =>
  error instanceof SqlError
    ? new StorageError({ operation, cause: error })
    : new StorageError({ operation, cause: DecodeFailure.fromParseError("value written", error) })
