/** How the PostgreSQL store reports failures that are not domain outcomes. */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import { DecodeFailure } from "../../domain/Errors.js"
import { StorageError } from "../StoreErrors.js"

type Unhandled = SqlError | ParseResult.ParseError

/**
 * The last step of every store method: a SqlError becomes the method's
 * `StorageError`, kept whole so its `cause` (the `pg` error with its SQLSTATE
 * `code`) stays reachable; a value that failed encoding on its way in (NaN in
 * a payload) becomes a `StorageError` carrying a `DecodeFailure`, because the
 * port's unions have no input-error member.
 */
export const storageErrors = (operation: string) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, Unhandled> | StorageError, R> =>
  Effect.mapError(self, (error) => {
    if (error instanceof SqlError) return new StorageError({ operation, cause: error })
    if (ParseResult.isParseError(error)) {
      return new StorageError({ operation, cause: DecodeFailure.fromParseError("value written", error) })
    }
    // Everything else in E is neither of the two handled above.
    return error as Exclude<E, Unhandled>
  })
